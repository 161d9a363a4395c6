"""The fused CPU kernel: every chip's whole run in one Numba pass, chips in parallel.

Per chip (a `prange` over chips; each chip's state stays in cache for its whole run) and
step: the active sources (input counts and last step's spikes) add their counts through
the fan-out table; then the neurons are updated (CHIP_SPEC §4–5) in loops that LLVM
vectorises: synaptic decay and integration of AMPA, NMDA and GABA_A (one pass per type,
the first one writing total = idc + current), counter noise, then GABA_B's synapses with
leak, clip, refractory hold and fire in one pass. The passes compute in 32-bit integers,
sixteen lanes to an AVX-512 register, exact because the spec's ranges bound every value
(a product that needs more than 32 bits is split: `_decay`, `_synapse`): 5-10 % faster
than int64 arithmetic on the same int32 state (same-process A/B, Zen 5 EPYC). Every pass
saved over `total` is worth 5-15 %; but one loop doing all of it, or two types in the
membrane pass, does not vectorise and is three to four times slower. Measured no faster:
uint16 parameters, int16 counts, int64 state, and the neurons in cache-sized tiles within
a step (a chip's whole state, ~100 kB at N = 1024, stays in L2 for its run anyway, so B
does not change the rate per neuron-step).
The step's spikes are collected eight flags at a time, skipping empty words. Propagation
is always by events: the fan-out table holds exactly the nonzero entries of the dense
matrix, so walking it is never more work than a dense product, even when every source is
active; its targets index unsigned, which spares Numba's negative-index check.

The spikes of the selected neurons are written from that list too (each chip's rows
zeroed first, then each spike through its neuron's output column), not read from every
selected neuron at every step.
With `count`, each chip also counts every neuron's spikes as they fire, and marks those
of the last step (`sim.chip.activity` turns them into the run's activity counters).

The run releases the GIL, so that the host can work (decode, fit readouts) meanwhile.
Chips share nothing but read-only tables, so two threads run at 1.97x one thread's rate
(B = 256, 400 steps, 2-core Zen 5, idle; two processes do as well) unless another thread
is busy: a multithreaded BLAS call just before a run left OpenBLAS's worker spinning
through it (1.1x; hence `sim.chip.activity` counts in integer products, off BLAS).
Compiled on first use and cached on disk (`cache=True`, in `__pycache__` or
`NUMBA_CACHE_DIR`); `bench/bench_chip.py --compile-cost` measures both first calls.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from sim.chip.noise import GOLDEN, MIX1, MIX2, STEP_STRIDE
from sim.chip.population import KernelOutput, Population
from sim.chip.spec import ISYN_MAX, V_RANGE

_GOLDEN, _MIX1, _MIX2, _STRIDE = (np.uint64(value) for value in (GOLDEN, MIX1, MIX2, STEP_STRIDE))
_V_MIN, _V_MAX = V_RANGE
TOTAL_CLIP = 2**26  # |a neuron's input besides GABA_B| beyond this drives it to the end of V_RANGE


@njit(cache=True, inline="always")
def _splitmix64(z: np.uint64) -> np.uint64:
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _propagate(c, x_t, fired, n_fired, m, indptr, targets):
    """c[type · n + i] += count of every active source, through its fan-out."""
    for j in range(m):
        count = np.int32(x_t[j])
        if count:
            for e in range(indptr[j], indptr[j + 1]):
                c[np.uint32(targets[e])] += count  # (an unsigned index skips the negative-index check)
    for q in range(n_fired):
        source = m + fired[q]
        for e in range(indptr[source], indptr[source + 1]):
            c[np.uint32(targets[e])] += 1


@njit(cache=True)
def _add_noise(total, counter, neuron_ids, amplitude):
    """total[i] += noise(t, n_i) (CHIP_SPEC §5), with counter = key + t · 2**20, clipped to
    ±TOTAL_CLIP (which changes no membrane: see `_update_membranes`).

    The remainder of the 31-bit draw is taken through a float reciprocal, so that the loop
    vectorises: the quotient is then exact to within one, which the two corrections fix."""
    modulus = 2 * amplitude + 1
    inverse = 1.0 / modulus
    for i in range(total.size):
        draw = np.int64(_splitmix64(counter + neuron_ids[i]) >> np.uint64(33))
        remainder = draw - np.int64(draw * inverse) * modulus
        remainder = remainder + modulus if remainder < 0 else remainder
        remainder = remainder - modulus if remainder >= modulus else remainder
        total[i] = min(max(np.int64(total[i]) + remainder - amplitude, -TOTAL_CLIP), TOTAL_CLIP)


@njit(cache=True, inline="always")
def _decay(x, d):
    """(x · d) >> 16 in 32-bit arithmetic, for |x| < 2**31 and 0 <= d < 2**16: x = h · 2**16 + l
    with 0 <= l < 2**16, so the product is h · d · 2**16 + l · d, and l · d < 2**32 unsigned."""
    low = np.uint32(np.uint32(x & 0xFFFF) * np.uint32(d))
    return np.int32(np.int32(x >> 16) * d) + np.int32(low >> np.uint32(16))


@njit(cache=True, inline="always")
def _synapse(isyn, c, dsyn, wsyn, i):
    """Synapse i's new current: isyn decays and takes c · wsyn (saturating); c is zeroed.

    In 32-bit arithmetic (twice the SIMD lanes of 64-bit): 0 <= isyn < 2**24, and c < 2**19
    (at most 15 per CAM slot, fan_in <= 20480), wsyn < 2**15 split into 7 high and 8 low
    bits: c · high < 2**26, c · low < 2**27, and the high part is capped at 2**24, where the
    current saturates anyway, so every sum stays below 2**31."""
    s = isyn[i]
    count = c[i]
    w = wsyn[i]
    high = min(np.int32(count * (w >> 8)), np.int32(1 << 16))
    s = np.int32(np.int32(s - _decay(s, dsyn[i])) + np.int32(np.int32(high << 8) + np.int32(count * (w & 0xFF))))
    s = min(s, np.int32(ISYN_MAX))
    isyn[i] = s
    c[i] = 0
    return s


@njit(cache=True)
def _first_type(isyn, c, dsyn, wsyn, total, idc):
    """total = idc + AMPA's new current."""
    for i in range(total.size):
        total[i] = np.int32(idc[i] + _synapse(isyn, c, dsyn, wsyn, i))


@njit(cache=True)
def _add_type(isyn, c, dsyn, wsyn, total, sign):
    """total += sign · the type's new current."""
    for i in range(total.size):
        s = _synapse(isyn, c, dsyn, wsyn, i)
        total[i] = np.int32(total[i] + (s if sign > 0 else -s))


@njit(cache=True)
def _update_membranes(v, refr, fired_now, total, dmem, theta, t_ref, enabled, isyn, c, dsyn, wsyn):
    """GABA_B's synapses (isyn, c, dsyn, wsyn: the type's rows), then leak, integrate `total`
    less GABA_B's current, clip, hold refractory or disabled neurons, fire.

    In 32-bit arithmetic: |v - decay| <= 2**23, 0 <= GABA_B < 2**24 and |total| <= TOTAL_CLIP
    = 2**26, so the sum stays within 2**27; and a total clipped there clips the membrane to
    the same end of V_RANGE as the unclipped one would."""
    for i in range(v.size):
        inhibit = _synapse(isyn, c, dsyn, wsyn, i)
        u = v[i]
        u = np.int32(np.int32(u - _decay(u, dmem[i])) + np.int32(total[i] - inhibit))
        u = min(max(u, np.int32(_V_MIN)), np.int32(_V_MAX))
        r = refr[i]
        held = r > 0 or not enabled[i]
        u = np.int32(0) if held else u
        r = np.int32(max(r - 1, 0)) if held else r
        spike = u >= theta[i]
        fired_now[i] = spike
        v[i] = np.int32(0) if spike else u
        refr[i] = t_ref[i] if spike else r


@njit(cache=True)
def _run_chip(x, indptr, targets, dmem, dsyn, wsyn, theta, idc, t_ref, enabled, neuron_ids, key, amplitude,
              column, spikes, v_out, isyn_out, refr_out, record, fired_count, fired_last, count):
    """One chip's run from power-on: x [T, M] counts; per-chip parameters [(4,) n]; each
    neuron's spikes go to spikes[t, column[i]] (column -1: not kept); with `count`, spikes
    per neuron into fired_count [n] and the last step's into fired_last [n]."""
    spikes[:] = False  # (here, not by the caller: each thread writes, and so pages in, its chips' rows)
    steps, m = x.shape
    n = dmem.size
    v = np.zeros(n, np.int32)
    isyn = np.zeros((4, n), np.int32)
    refr = np.zeros(n, np.int32)
    c = np.zeros(4 * n, np.int32)
    total = np.zeros(n, np.int32)
    flags = np.zeros((n + 7) // 8 * 8, np.bool_)  # fired_now, padded to whole words of 8
    words = flags.view(np.uint64)
    fired_now = flags[:n]
    fired = np.zeros(n, np.int64)  # ids of the neurons that fired in the last step
    n_fired = 0
    for t in range(steps):
        _propagate(c, x[t], fired, n_fired, m, indptr, targets)
        c2 = c.reshape(4, n)
        _first_type(isyn[0], c2[0], dsyn[0], wsyn[0], total, idc)
        _add_type(isyn[1], c2[1], dsyn[1], wsyn[1], total, 1)
        _add_type(isyn[2], c2[2], dsyn[2], wsyn[2], total, -1)
        if amplitude:
            _add_noise(total, key + np.uint64(t) * _STRIDE, neuron_ids, amplitude)
        _update_membranes(v, refr, fired_now, total, dmem, theta, t_ref, enabled, isyn[3], c2[3], dsyn[3], wsyn[3])
        n_fired = 0
        for w in range(words.size):  # eight neurons at a time: most words hold no spike
            if words[w]:
                for i in range(8 * w, 8 * w + 8):
                    if flags[i]:
                        fired[n_fired] = i
                        n_fired += 1
        for q in range(n_fired):
            i = fired[q]
            if count:
                fired_count[i] += 1
            if column[i] >= 0:
                spikes[t, column[i]] = True
        if record:
            v_out[t] = v
            isyn_out[t] = isyn
            refr_out[t] = refr
    if count:
        for q in range(n_fired):
            fired_last[fired[q]] = True


@njit(parallel=True, cache=True, nogil=True)
def _run_chips(x, indptr, targets, dmem, dsyn, wsyn, theta, idc, t_ref, enabled, neuron_ids, keys, amplitude,
               column, spikes, v_out, isyn_out, refr_out, record, fired_count, fired_last, count):
    """Every chip in parallel; x is [B, T, M], or [1, T, M] shared by all chips."""
    for b in prange(keys.size):
        row = np.int64(b) if x.shape[0] > 1 else 0  # (prange indices are unsigned)
        _run_chip(x[row], indptr, targets, dmem[b], dsyn[b], wsyn[b], theta[b], idc[b],
                  t_ref[b], enabled, neuron_ids, keys[b], amplitude, column, spikes[b],
                  v_out[b] if record else v_out[0], isyn_out[b] if record else isyn_out[0],
                  refr_out[b] if record else refr_out[0], record,
                  fired_count[b] if count else fired_count[0], fired_last[b] if count else fired_last[0], count)


class NumbaKernel:
    """Runs a population's chips with the fused kernel on `threads` threads (None: all), never
    more than the calling thread's `numba.get_num_threads()`."""

    def __init__(self, pop: Population, threads: int | None = None):
        self.pop = pop
        self.threads = min(threads or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS)

    def run(self, x: np.ndarray, keys: np.ndarray, amplitude: int, selected: np.ndarray, record_state: bool,
            count: bool = True) -> KernelOutput:
        """Spikes [B, T, K] of population positions `selected`, state (v, isyn, refr) or None,
        spike counts (per neuron, of the last step) or None."""
        pop = self.pop
        b, steps, n = keys.size, x.shape[1], pop.index.size
        kept, repeat = np.unique(selected, return_inverse=True)  # the kernel writes each neuron once
        if kept.size == selected.size:
            kept, repeat = selected, None
        column = np.full(n, -1, np.int64)
        column[kept] = np.arange(kept.size)
        spikes = np.empty((b, steps, kept.size), np.bool_)
        shape = (b, steps) if record_state else (1, 0)
        states = (np.zeros((*shape, n), np.int64), np.zeros((*shape, 4, n), np.int64),
                  np.zeros((*shape, n), np.int64))
        counts = (np.zeros((b if count else 1, n), np.int64), np.zeros((b if count else 1, n), np.bool_))
        previous = numba.get_num_threads()  # this thread's bound (`numba.set_num_threads`), kept
        numba.set_num_threads(min(self.threads, b, previous))  # an idle thread still joins (slow on busy cores)
        try:
            _run_chips(np.ascontiguousarray(x), pop.indptr, pop.targets, pop.dmem, pop.dsyn, pop.wsyn, pop.theta,
                       pop.idc, pop.t_ref, pop.enabled, pop.index.astype(np.uint64), keys.astype(np.uint64),
                       np.int64(amplitude), column, spikes, *states, record_state, *counts, count)
        finally:
            numba.set_num_threads(previous)
        if repeat is not None:
            spikes = spikes[:, :, repeat.ravel()]
        return spikes, states if record_state else None, counts if count else None
