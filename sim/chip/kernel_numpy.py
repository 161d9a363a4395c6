"""The vectorised NumPy step loop: the pure-NumPy baseline of `bench/bench_chip.py`.

One array operation per term of CHIP_SPEC §4 over all chips at once, chips split across
threads (NumPy releases the GIL inside array operations). Synaptic input goes event by
event through the fan-out table while spikes are sparse, and through a float32 matrix
product (exact: every sum stays below 2**24) in steps with so many events that the
product is cheaper (`propagation="auto"`; "events" or "dense" force one).

State is held in float64, which is exact here: every value is an integer below 2**53
(isyn·dsyn < 2**40, |v·dmem| < 2**39), multiplying by dsyn·2**-16 only rescales by a
power of two, and `floor` of the product is the spec's arithmetic shift `>> 16`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sim.chip.noise import noise_step
from sim.chip.population import KernelOutput, Population, prefer_dense
from sim.chip.spec import ISYN_MAX, V_RANGE

EVENT_COST = 1000  # one propagated event costs about this many dense multiply-adds (bench_chip)
MIN_CHUNK = 8  # chips per thread below which threading does not pay


class VectorKernel:
    """Runs a population's chips with NumPy array operations, `threads` chunks of chips."""

    def __init__(self, pop: Population, propagation: str = "auto", threads: int = 1):
        self.pop = pop
        self.threads = threads
        self.fan_out = pop.fan_out
        self.events = propagation != "dense"
        self.dense = pop.dense() if propagation != "events" else None
        f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
        self.params = _Params(dmem_q16=pop.dmem / 65536.0, dsyn_q16=pop.dsyn / 65536.0, theta=f64(pop.theta),
                              idc=f64(pop.idc), t_ref=f64(pop.t_ref), wsyn=f64(pop.wsyn))

    def run(self, x: np.ndarray, keys: np.ndarray, amplitude: int, selected: np.ndarray, record_state: bool,
            count: bool = True) -> KernelOutput:
        """Spikes [B, T, K] of population positions `selected`, state (v, isyn, refr) or None,
        spike counts (per neuron, of the last step) or None."""
        b = keys.size
        x = np.broadcast_to(x, (b, *x.shape[1:]))
        chunks = _chunks(b, self.threads)
        run_chunk = lambda lo, hi: self._simulate(x[lo:hi], keys[lo:hi, None], self.params.rows(lo, hi),  # noqa: E731
                                                  amplitude, selected, record_state, count)
        if len(chunks) == 1:
            parts = [run_chunk(*chunks[0])]
        else:
            with ThreadPoolExecutor(len(chunks)) as pool:
                parts = list(pool.map(lambda chunk: run_chunk(*chunk), chunks))
        join = lambda i, n: tuple(np.concatenate([part[i][j] for part in parts]) for j in range(n))  # noqa: E731
        return (np.concatenate([part[0] for part in parts]), join(1, 3) if record_state else None,
                join(2, 2) if count else None)

    def _simulate(self, x: np.ndarray, keys: np.ndarray, p: "_Params", amplitude: int, selected: np.ndarray,
                  record_state: bool, count: bool) -> KernelOutput:
        """The vc1 step loop (CHIP_SPEC §4) for one chunk of chips."""
        b, steps, n = x.shape[0], x.shape[1], self.pop.index.size
        v = np.zeros((b, n))
        isyn = np.zeros((b, 4, n))
        refr = np.zeros((b, n))
        s = np.zeros((b, n), np.uint8)
        out = np.zeros((b, steps, selected.size), bool)
        states = (np.zeros((b, steps, n), np.int64), np.zeros((b, steps, 4, n), np.int64),
                  np.zeros((b, steps, n), np.int64)) if record_state else None
        neuron_ids = self.pop.index.astype(np.uint64)
        disabled = ~self.pop.enabled
        decay = np.empty_like(isyn)
        leak = np.empty_like(v)
        fired_count = np.zeros((b, n), np.int64) if count else None
        for t in range(steps):
            c = self._propagate(np.concatenate([x[:, t], s], axis=1))
            # isyn[k] = min(isyn[k] - ((isyn[k] * dsyn[k]) >> 16) + c[k] * wsyn[k], ISYN_MAX)
            np.multiply(isyn, p.dsyn_q16, out=decay)
            np.floor(decay, out=decay)
            isyn -= decay
            c *= p.wsyn
            isyn += c
            np.minimum(isyn, ISYN_MAX, out=isyn)
            itot = isyn[:, 0] + isyn[:, 1]
            itot -= isyn[:, 2]
            itot -= isyn[:, 3]
            itot += p.idc
            if amplitude:
                itot += noise_step(keys, t, neuron_ids, amplitude)
            # v = clip(v - ((v * dmem) >> 16) + itot)
            np.multiply(v, p.dmem_q16, out=leak)
            np.floor(leak, out=leak)
            v -= leak
            v += itot
            np.clip(v, *V_RANGE, out=v)
            held = refr > 0
            held |= disabled
            v[held] = 0
            refr -= 1
            np.maximum(refr, 0, out=refr)
            fired = v >= p.theta
            v[fired] = 0
            np.copyto(refr, p.t_ref, where=fired)
            s = fired.view(np.uint8)
            if fired_count is not None:
                fired_count += s
            out[:, t] = fired[:, selected]
            if states is not None:
                states[0][:, t], states[1][:, t], states[2][:, t] = v, isyn, refr
        return out, states, (fired_count, s.astype(bool)) if count else None

    def _propagate(self, src: np.ndarray) -> np.ndarray:
        """c[b, k, i] (float64): per type, the summed counts of each neuron's CAM sources."""
        if not self.events:
            return self._propagate_dense(src)
        chip, source = np.nonzero(src)
        lengths = self.fan_out[source]
        total = int(lengths.sum())
        if self.dense is not None and prefer_dense(total, src.shape[0], self.dense.size, EVENT_COST):
            return self._propagate_dense(src)
        return self._propagate_events(src, chip, source, lengths, total)

    def _propagate_dense(self, src: np.ndarray) -> np.ndarray:
        b, n = src.shape[0], self.pop.index.size
        return (src.astype(np.float32) @ self.dense).astype(np.float64).reshape(b, 4, n)

    def _propagate_events(self, src: np.ndarray, chip: np.ndarray, source: np.ndarray,
                          lengths: np.ndarray, total: int) -> np.ndarray:
        """Each active source adds its count to the CAM slots it feeds (fan-out table);
        `total` = lengths.sum()."""
        b, n = src.shape[0], self.pop.index.size
        if not total:
            return np.zeros((b, 4, n))
        ends = np.cumsum(lengths)
        event = np.repeat(np.arange(chip.size), lengths)
        slot = np.arange(event.size) - (ends - lengths)[event] + self.pop.indptr[source][event]
        flat = self.pop.targets[slot] + (chip * (4 * n))[event]
        weight = src[chip, source].astype(np.float64)[event]
        return np.bincount(flat, weights=weight, minlength=b * 4 * n).reshape(b, 4, n)


@dataclass
class _Params:
    """Per-chip parameters [B, (4,) n] as float64 (dmem, dsyn pre-scaled by 2**-16, exactly)."""

    dmem_q16: np.ndarray
    dsyn_q16: np.ndarray
    theta: np.ndarray
    idc: np.ndarray
    t_ref: np.ndarray
    wsyn: np.ndarray

    def rows(self, lo: int, hi: int) -> "_Params":
        return _Params(**{name: value[lo:hi] for name, value in vars(self).items()})


def _chunks(n_chips: int, threads: int) -> list[tuple[int, int]]:
    """Split chips into at most `threads` contiguous chunks of at least MIN_CHUNK chips."""
    count = max(1, min(threads, n_chips // MIN_CHUNK))
    bounds = np.linspace(0, n_chips, count + 1).astype(int)
    return list(zip(bounds[:-1], bounds[1:]))
