"""The batched vc1 simulator: B chips (own seeds, one configuration) at once, NumPy or CuPy.

Bit-identical to `drivers.emulator.EmulatorChip` (CHIP_SPEC §4–5), written for speed:
synaptic input is propagated event-driven through a fan-out table (each active source
adds its count to the CAM targets it feeds), since spikes are sparse; `propagation=
"dense"` uses a float32 matrix product instead (exact: every sum stays below 2**24).

State is held in float64, which is exact here: every value is an integer below 2**53
(isyn·dsyn < 2**40, |v·dmem| < 2**39), multiplying by dsyn·2**-16 only rescales by a
power of two, and `floor` of the product is the spec's arithmetic shift `>> 16`. This
spares the int/float conversions of the propagated counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from sim.backend import Backend, get_backend
from sim.chip.config import ChipConfig
from sim.chip.inputs import check_inputs
from sim.chip.mismatch import MismatchLevel, batch_params
from sim.chip.noise import noise_keys, noise_step
from sim.chip.spec import ISYN_MAX, V_RANGE

PROPAGATIONS = ("events", "dense")


@dataclass
class BatchResult:
    """Spikes [B, T, K] of the selected neurons; full state [B, T, ...] when recorded."""

    spikes: np.ndarray
    neurons: np.ndarray
    v: np.ndarray | None = None     # [B, T, N]
    isyn: np.ndarray | None = None  # [B, T, 4, N]
    refr: np.ndarray | None = None  # [B, T, N]


class BatchedChips:
    """Chips `chip_seeds` (repeats allowed) at mismatch `mismatch`, all loaded with `config`."""

    def __init__(self, config: ChipConfig, chip_seeds: Sequence[int], mismatch: MismatchLevel = "spec",
                 backend: Backend | str = "auto", propagation: str = "events"):
        if propagation not in PROPAGATIONS:
            raise ValueError(f"propagation {propagation!r}: choose one of {', '.join(PROPAGATIONS)}")
        if len(chip_seeds) < 1:
            raise ValueError("BatchedChips needs at least one chip seed")
        self.config = config.validate()
        self.spec = config.spec
        self.chip_seeds = [int(s) for s in chip_seeds]
        self.backend = get_backend(backend)
        self.propagation = propagation
        xp = self.backend.xp
        params = batch_params(config, self.chip_seeds, mismatch)
        as_float = lambda a: xp.asarray(a, dtype=xp.float64)  # noqa: E731
        self.dmem_q16 = as_float(params.dmem / 65536.0)  # exact: dmem < 2**16
        self.dsyn_q16 = as_float(params.dsyn / 65536.0)  # [B, 4, N]
        self.theta, self.idc, self.t_ref = (as_float(getattr(params, name)) for name in ("theta", "idc", "t_ref"))
        self.wsyn = as_float(params.wsyn)
        self.enabled = xp.asarray(params.enabled)
        if propagation == "events":
            self._indptr, self._targets = (xp.asarray(a) for a in _fan_out(config))
        else:
            counts = config.weight_counts()  # [4, S, N] -> [S, 4 N]
            self._dense = xp.asarray(counts.transpose(1, 0, 2).reshape(self.spec.n_sources, -1), dtype=xp.float32)

    @property
    def n_chips(self) -> int:
        return len(self.chip_seeds)

    def run(self, inputs: Any, *, noise_amplitude: int = 0, noise_seeds: int | Sequence[int] = 0,
            record_state: bool = False, neurons: Sequence[int] | None = None) -> BatchResult:
        """Run every chip on `inputs` ([T, M] shared, or [B, T, M] one per chip) from power-on."""
        xp, spec = self.backend.xp, self.spec
        batched = np.ndim(inputs) == 3
        x = check_inputs(inputs, spec, batched=batched)
        if batched and x.shape[0] != self.n_chips:
            raise ValueError(f"inputs hold {x.shape[0]} rasters for {self.n_chips} chips")
        x = xp.asarray(x if batched else np.broadcast_to(x, (self.n_chips, *x.shape)))
        b, n, steps = self.n_chips, spec.n_neurons, x.shape[1]
        selected = np.arange(n) if neurons is None else np.asarray(neurons, np.int64)
        if selected.ndim != 1 or (selected.size and (selected.min() < 0 or selected.max() >= n)):
            raise ValueError(f"neurons must be indices in 0..{n - 1}")
        selected_xp = xp.asarray(selected)
        amplitude = int(noise_amplitude)
        if amplitude < 0:
            raise ValueError(f"noise amplitude {amplitude} must be >= 0")
        if amplitude:
            seeds = np.broadcast_to(np.asarray(noise_seeds, np.uint64), (b,))
            keys = xp.asarray(noise_keys(self.chip_seeds, seeds)[:, None])
            neuron_ids = xp.arange(n, dtype=xp.uint64)

        f64 = xp.float64
        v = xp.zeros((b, n), f64)
        isyn = xp.zeros((b, 4, n), f64)
        refr = xp.zeros((b, n), f64)
        s = xp.zeros((b, n), xp.uint8)
        out = xp.zeros((b, steps, selected.size), bool)
        states = (xp.zeros((b, steps, n), xp.int64), xp.zeros((b, steps, 4, n), xp.int64),
                  xp.zeros((b, steps, n), xp.int64)) if record_state else None
        decay = xp.empty_like(isyn)
        leak = xp.empty_like(v)
        v_lo, v_hi = V_RANGE
        for t in range(steps):
            c = self._propagate(x[:, t], s)
            # isyn[k] = min(isyn[k] - ((isyn[k] * dsyn[k]) >> 16) + c[k] * wsyn[k], ISYN_MAX)
            xp.multiply(isyn, self.dsyn_q16, out=decay)
            xp.floor(decay, out=decay)
            isyn -= decay
            c *= self.wsyn
            isyn += c
            xp.minimum(isyn, ISYN_MAX, out=isyn)
            itot = isyn[:, 0] + isyn[:, 1]
            itot -= isyn[:, 2]
            itot -= isyn[:, 3]
            itot += self.idc
            if amplitude:
                itot += noise_step(keys, t, neuron_ids, amplitude, xp)
            # v = clip(v - ((v * dmem) >> 16) + itot)
            xp.multiply(v, self.dmem_q16, out=leak)
            xp.floor(leak, out=leak)
            v -= leak
            v += itot
            xp.clip(v, v_lo, v_hi, out=v)
            held = refr > 0
            held |= ~self.enabled
            v[held] = 0
            refr -= 1
            xp.maximum(refr, 0, out=refr)
            fired = v >= self.theta
            v[fired] = 0
            xp.copyto(refr, self.t_ref, where=fired)
            s = fired.view(xp.uint8) if xp is np else fired.astype(xp.uint8)
            out[:, t] = fired[:, selected_xp]
            if states is not None:
                states[0][:, t], states[1][:, t], states[2][:, t] = v, isyn, refr
        to_np = self.backend.to_numpy
        result = BatchResult(to_np(out), selected)
        if states is not None:
            result.v, result.isyn, result.refr = (to_np(a) for a in states)
        return result

    def _propagate(self, x_t: Any, s: Any) -> Any:
        """c[b, k, n]: per type, the summed counts of each neuron's CAM sources (float64)."""
        xp, spec = self.backend.xp, self.spec
        b, n = self.n_chips, spec.n_neurons
        src = xp.concatenate([x_t, s], axis=1)
        if self.propagation == "dense":
            return (src.astype(xp.float32) @ self._dense).astype(xp.float64).reshape(b, 4, n)
        chip, source = xp.nonzero(src)
        if chip.size == 0:
            return xp.zeros((b, 4, n), xp.float64)
        starts = self._indptr[source]
        lengths = self._indptr[source + 1] - starts
        ends = xp.cumsum(lengths)
        total = int(ends[-1])
        if total == 0:
            return xp.zeros((b, 4, n), xp.float64)
        event = xp.repeat(xp.arange(chip.size), lengths) if xp is np else \
            xp.searchsorted(ends, xp.arange(total), side="right")
        slot = xp.arange(total) - (ends - lengths)[event] + starts[event]
        flat = self._targets[slot] + (chip * (4 * n))[event]
        weight = src[chip, source].astype(xp.float64)[event]
        return xp.bincount(flat, weights=weight, minlength=b * 4 * n).reshape(b, 4, n)


def _fan_out(config: ChipConfig) -> tuple[np.ndarray, np.ndarray]:
    """CSR fan-out table: for source j, targets[indptr[j]:indptr[j+1]] = k·N + n per CAM slot."""
    source, target, kind = config.synapses()
    order = np.argsort(source, kind="stable")
    flat_target = (kind * config.spec.n_neurons + target)[order]
    indptr = np.zeros(config.spec.n_sources + 1, np.int64)
    np.cumsum(np.bincount(source, minlength=config.spec.n_sources), out=indptr[1:])
    return indptr, flat_target.astype(np.int64)
