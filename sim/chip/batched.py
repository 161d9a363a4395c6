"""The batched vc1 simulator: B chips (own seeds, one configuration) at once, NumPy or CuPy.

Bit-identical to `drivers.emulator.EmulatorChip` (CHIP_SPEC §4–5), written for speed:
synaptic input is propagated event-driven through a fan-out table (each active source
adds its count to the CAM targets it feeds) while spikes are sparse, and by a float32
matrix product (exact: every sum stays below 2**24) in steps with so many events that
the product is cheaper (`propagation="auto"`, the default; "events" or "dense" force one).

State is held in float64, which is exact here: every value is an integer below 2**53
(isyn·dsyn < 2**40, |v·dmem| < 2**39), multiplying by dsyn·2**-16 only rescales by a
power of two, and `floor` of the product is the spec's arithmetic shift `>> 16`. This
spares the int/float conversions of the propagated counts.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from sim.backend import Backend, get_backend
from sim.chip.config import ChipConfig
from sim.chip.inputs import check_inputs
from sim.chip.mismatch import MismatchLevel, batch_params, check_chip_seed
from sim.chip.noise import check_noise_amplitude, check_noise_seeds, noise_keys, noise_step
from sim.chip.spec import ISYN_MAX, V_RANGE

PROPAGATIONS = ("auto", "events", "dense")
EVENT_COST = 1000  # auto: one propagated event costs about this many dense multiply-adds (bench_chip)
MIN_CHUNK = 8  # chips per thread below which threading does not pay


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
                 backend: Backend | str = "auto", propagation: str = "auto", threads: int | None = None):
        if propagation not in PROPAGATIONS:
            raise ValueError(f"propagation {propagation!r}: choose one of {', '.join(PROPAGATIONS)}")
        if len(chip_seeds) < 1:
            raise ValueError("BatchedChips needs at least one chip seed")
        self.chip_seeds = [check_chip_seed(seed) for seed in chip_seeds]
        self.config = config.validate()
        self.spec = config.spec
        self.backend = get_backend(backend)
        self.propagation = propagation
        self.threads = threads or os.cpu_count() or 1  # NumPy only; CuPy runs one stream
        self._params = batch_params(config, self.chip_seeds, mismatch)
        self._populations: dict[bool, _Population] = {}

    @property
    def n_chips(self) -> int:
        return len(self.chip_seeds)

    def _population(self, everyone: bool) -> "_Population":
        """The simulated neurons: all of them, or (when no state is recorded) only the
        enabled ones — a disabled neuron never spikes, so it cannot affect any other."""
        if everyone not in self._populations:
            enabled = self._params.enabled
            index = np.arange(self.spec.n_neurons) if everyone else np.flatnonzero(enabled)
            self._populations[everyone] = _Population.build(self.config, self._params, index,
                                                            self.backend, self.propagation)
        return self._populations[everyone]

    def run(self, inputs: Any, *, noise_amplitude: int = 0, noise_seeds: int | Sequence[int] = 0,
            record_state: bool = False, neurons: Sequence[int] | None = None) -> BatchResult:
        """Run every chip on `inputs` ([T, M] shared, or [B, T, M] one per chip) from power-on;
        `noise_seeds` is one seed for every chip or one per chip."""
        xp, spec = self.backend.xp, self.spec
        batched = np.ndim(inputs) == 3
        x = check_inputs(inputs, spec, batched=batched)
        if batched and x.shape[0] != self.n_chips:
            raise ValueError(f"inputs hold {x.shape[0]} rasters for {self.n_chips} chips")
        x = xp.asarray(x if batched else np.broadcast_to(x, (self.n_chips, *x.shape)))
        b, n_all, steps = self.n_chips, spec.n_neurons, x.shape[1]
        selected = np.arange(n_all) if neurons is None else np.asarray(neurons, np.int64)
        if selected.ndim != 1 or (selected.size and (selected.min() < 0 or selected.max() >= n_all)):
            raise ValueError(f"neurons must be indices in 0..{n_all - 1}")
        amplitude = check_noise_amplitude(noise_amplitude)
        seeds = check_noise_seeds(noise_seeds, b)
        pop = self._population(everyone=record_state)
        n = pop.index.size
        # position of each selected neuron in the population; disabled ones (absent) read as silent
        position = np.searchsorted(pop.index, selected)
        present = (position < n) & (pop.index[np.minimum(position, n - 1)] == selected) if n else \
            np.zeros(selected.size, bool)
        selected_xp = xp.asarray(position[present])
        keys = xp.asarray(noise_keys(self.chip_seeds, seeds))
        chunks = _chunks(b, self.threads if xp is np else 1)
        jobs = [(pop.rows(lo, hi), x[lo:hi], keys[lo:hi, None]) for lo, hi in chunks]
        run_chunk = lambda job: _simulate(*job, amplitude, selected_xp, record_state)  # noqa: E731
        if len(jobs) == 1:
            parts = [run_chunk(jobs[0])]
        else:  # NumPy releases the GIL inside array operations: chunks of chips run in parallel
            with ThreadPoolExecutor(len(jobs)) as pool:
                parts = list(pool.map(run_chunk, jobs))
        to_np = self.backend.to_numpy
        spikes = np.zeros((b, steps, selected.size), bool)
        spikes[:, :, present] = np.concatenate([to_np(part[0]) for part in parts])
        result = BatchResult(spikes, selected)
        if record_state:
            result.v, result.isyn, result.refr = (np.concatenate([to_np(part[1][i]) for part in parts])
                                                  for i in range(3))
        return result


def _chunks(n_chips: int, threads: int) -> list[tuple[int, int]]:
    """Split chips into at most `threads` contiguous chunks of at least MIN_CHUNK chips."""
    count = max(1, min(threads, n_chips // MIN_CHUNK))
    bounds = np.linspace(0, n_chips, count + 1).astype(int)
    return list(zip(bounds[:-1], bounds[1:]))


def _simulate(pop: "_Population", x: Any, keys: Any, amplitude: int, selected: Any,
              record_state: bool) -> tuple[Any, tuple[Any, ...] | None]:
    """The vc1 step loop (CHIP_SPEC §4) for one chunk of chips; returns (spikes, state)."""
    xp = pop.backend.xp
    b, steps, n = x.shape[0], x.shape[1], pop.index.size
    f64 = xp.float64
    v = xp.zeros((b, n), f64)
    isyn = xp.zeros((b, 4, n), f64)
    refr = xp.zeros((b, n), f64)
    s = xp.zeros((b, n), xp.uint8)
    out = xp.zeros((b, steps, selected.size), bool)
    states = (xp.zeros((b, steps, n), xp.int64), xp.zeros((b, steps, 4, n), xp.int64),
              xp.zeros((b, steps, n), xp.int64)) if record_state else None
    neuron_ids = xp.asarray(pop.index.astype(np.uint64))
    decay = xp.empty_like(isyn)
    leak = xp.empty_like(v)
    v_lo, v_hi = V_RANGE
    for t in range(steps):
        c = pop.propagate(x[:, t], s)
        # isyn[k] = min(isyn[k] - ((isyn[k] * dsyn[k]) >> 16) + c[k] * wsyn[k], ISYN_MAX)
        xp.multiply(isyn, pop.dsyn_q16, out=decay)
        xp.floor(decay, out=decay)
        isyn -= decay
        c *= pop.wsyn
        isyn += c
        xp.minimum(isyn, ISYN_MAX, out=isyn)
        itot = isyn[:, 0] + isyn[:, 1]
        itot -= isyn[:, 2]
        itot -= isyn[:, 3]
        itot += pop.idc
        if amplitude:
            itot += noise_step(keys, t, neuron_ids, amplitude, xp)
        # v = clip(v - ((v * dmem) >> 16) + itot)
        xp.multiply(v, pop.dmem_q16, out=leak)
        xp.floor(leak, out=leak)
        v -= leak
        v += itot
        xp.clip(v, v_lo, v_hi, out=v)
        held = refr > 0
        held |= ~pop.enabled
        v[held] = 0
        refr -= 1
        xp.maximum(refr, 0, out=refr)
        fired = v >= pop.theta
        v[fired] = 0
        xp.copyto(refr, pop.t_ref, where=fired)
        s = fired.view(xp.uint8) if xp is np else fired.astype(xp.uint8)
        out[:, t] = fired[:, selected]
        if states is not None:
            states[0][:, t], states[1][:, t], states[2][:, t] = v, isyn, refr
    return out, states


@dataclass
class _Population:
    """The simulated neurons' parameters [B, (4,) n] and their synaptic input tables."""

    index: np.ndarray  # chip neuron ids simulated, ascending
    backend: Backend
    dmem_q16: Any      # dmem · 2**-16 (exact)
    dsyn_q16: Any
    theta: Any
    idc: Any
    t_ref: Any
    wsyn: Any
    enabled: Any
    indptr: Any = None   # event propagation: CSR fan-out over sources
    targets: Any = None
    dense: Any = None    # dense propagation: [sources, 4 n] float32

    @classmethod
    def build(cls, config: ChipConfig, params: Any, index: np.ndarray, backend: Backend,
              propagation: str) -> "_Population":
        xp = backend.xp
        pick = lambda a: xp.ascontiguousarray(xp.asarray(a[..., index], dtype=xp.float64))  # noqa: E731
        pop = cls(index=index, backend=backend, dmem_q16=pick(params.dmem / 65536.0),
                  dsyn_q16=pick(params.dsyn / 65536.0), theta=pick(params.theta), idc=pick(params.idc),
                  t_ref=pick(params.t_ref), wsyn=pick(params.wsyn), enabled=xp.asarray(params.enabled[index]))
        # renumber sources: inputs keep their ids, simulated neuron index[i] becomes M + i
        spec = config.spec
        rank = np.full(spec.n_neurons, -1, np.int64)
        rank[index] = np.arange(index.size)
        source, target, kind = config.synapses()
        from_neuron = source >= spec.inputs
        source_rank = rank[np.where(from_neuron, source - spec.inputs, 0)]
        source = np.where(from_neuron, np.where(source_rank >= 0, spec.inputs + source_rank, -1), source)
        keep = (source >= 0) & (rank[target] >= 0)  # silent (unsimulated) sources and targets drop out
        source, target, kind = source[keep], rank[target[keep]], kind[keep]
        n_sources, n = spec.inputs + index.size, index.size
        if propagation != "dense":
            order = np.argsort(source, kind="stable")
            indptr = np.zeros(n_sources + 1, np.int64)
            np.cumsum(np.bincount(source, minlength=n_sources), out=indptr[1:])
            pop.indptr, pop.targets = xp.asarray(indptr), xp.asarray((kind * n + target)[order])
        if propagation != "events":
            dense = np.zeros((n_sources, 4 * n), np.float32)
            np.add.at(dense, (source, kind * n + target), 1.0)
            pop.dense = xp.asarray(dense)
        return pop

    def rows(self, lo: int, hi: int) -> "_Population":
        """The same population restricted to chips lo..hi-1 (views; tables shared)."""
        per_chip = ("dmem_q16", "dsyn_q16", "theta", "idc", "t_ref", "wsyn")
        return replace(self, **{name: getattr(self, name)[lo:hi] for name in per_chip})

    def _propagate_dense(self, src: Any) -> Any:
        xp = self.backend.xp
        b, n = src.shape[0], self.index.size
        return (src.astype(xp.float32) @ self.dense).astype(xp.float64).reshape(b, 4, n)

    def propagate(self, x_t: Any, s: Any) -> Any:
        """c[b, k, i]: per type, the summed counts of each neuron's CAM sources (float64)."""
        xp = self.backend.xp
        b, n = s.shape
        src = xp.concatenate([x_t, s], axis=1)
        if self.indptr is None:
            return self._propagate_dense(src)
        chip, source = xp.nonzero(src)
        lengths = self.indptr[source + 1] - self.indptr[source]
        ends = xp.cumsum(lengths)
        total = int(ends[-1]) if chip.size else 0
        if self.dense is not None and total * EVENT_COST > self.dense.size * b:
            return self._propagate_dense(src)
        return self._propagate_events(src, chip, source, lengths, ends, total)

    def _propagate_events(self, src: Any, chip: Any, source: Any, lengths: Any, ends: Any, total: int) -> Any:
        """Each active source adds its count to the CAM slots it feeds (fan-out table)."""
        xp = self.backend.xp
        b, n = src.shape[0], self.index.size
        if total == 0:
            return xp.zeros((b, 4, n), xp.float64)
        starts = self.indptr[source]
        event = xp.repeat(xp.arange(chip.size), lengths) if xp is np else \
            xp.searchsorted(ends, xp.arange(total), side="right")
        slot = xp.arange(total) - (ends - lengths)[event] + starts[event]
        flat = self.targets[slot] + (chip * (4 * n))[event]
        weight = src[chip, source].astype(xp.float64)[event]
        return xp.bincount(flat, weights=weight, minlength=b * 4 * n).reshape(b, 4, n)
