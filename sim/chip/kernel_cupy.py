"""The GPU kernel: two CuPy RawKernels per step, integer-exact, no host synchronisation.

Per step, on one stream: the input counts of step t go into the source vector
src [B, M + n] (float32; its neuron part already holds the spikes of step t − 1), then
propagation fills c [B, 4, n] (float32, exact integers below 2**24), either

* `vc1_push`: every active (chip, source) adds its count to the CAM slots it feeds
  (fan-out table, atomics), while events are sparse, or
* a matrix product src @ dense with the [M + n, 4 n] connection counts (cuBLAS; exact
  with or without TF32, since counts <= 15 and multiplicities <= 2**11 have few bits),

and `vc1_step` updates every (chip, neuron) in one thread (CHIP_SPEC §4–5 in int64
arithmetic on int32 state), consumes c (zeroes it), writes the new spikes into src,
adds the fan-out of every spike to a per-step work counter and, when counting, adds each
spike to its neuron's count (one thread per (chip, neuron): no atomics). The last step's
spikes are the neuron part of src after the run.

`propagation="auto"` chooses per step from the work of the step's input events (known on
the host) plus the latest spike work the host has already received: that counter is
copied back asynchronously to pinned memory and read once its event has completed, so
the host never waits for the GPU inside the step loop (the choice may lag a few steps;
both paths give the same bits). CuPy is imported only when a kernel is built.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sim.chip.noise import STEP_STRIDE
from sim.chip.population import KernelOutput, Population, prefer_dense
from sim.chip.spec import ISYN_MAX, V_RANGE

# One atomic fan-out add costs about this many dense multiply-adds on the GPU: an estimate
# from H100-class throughput (cuBLAS SGEMM ~2.5e13 multiply-adds/s, scattered L2 atomics
# ~1e11/s), not yet measured; bench/device_check.sh prints both paths to tune it.
GPU_EVENT_COST = 300
BLOCK = 256

SOURCE = r"""
typedef long long i64;
typedef unsigned long long u64;
#define ISYN_MAX %(isyn_max)dLL
#define V_MIN (%(v_min)dLL)
#define V_MAX %(v_max)dLL

__device__ __forceinline__ u64 splitmix64(u64 z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* c[b, k, i] += count of every active source (src [B, S]) through its fan-out. */
extern "C" __global__ void vc1_push(const float* src, const i64* indptr, const int* targets, float* c,
                                    i64 n_pairs, int n_sources, int n) {
    for (i64 pair = (i64)blockIdx.x * blockDim.x + threadIdx.x; pair < n_pairs;
         pair += (i64)gridDim.x * blockDim.x) {
        float count = src[pair];
        if (count == 0.0f) continue;
        i64 chip = pair / n_sources;
        int source = (int)(pair - chip * n_sources);
        float* chip_c = c + chip * 4 * n;
        for (i64 e = indptr[source]; e < indptr[source + 1]; ++e) atomicAdd(chip_c + targets[e], count);
    }
}

/* One step of every (chip b, neuron i): per-chip parameters [B, (4,) n], state int32. */
extern "C" __global__ void vc1_step(float* c, int* v, int* isyn, int* refr, float* src, u64* spike_work,
                                    i64* fired_count, const int* dmem, const int* dsyn, const int* wsyn, const int* theta,
                                    const int* idc, const int* t_ref, const bool* enabled,
                                    const u64* neuron_ids, const i64* fan_out, const u64* keys,
                                    u64 step_offset, i64 amplitude, i64 n_chips, int n, int n_inputs,
                                    int count) {
    for (i64 id = (i64)blockIdx.x * blockDim.x + threadIdx.x; id < n_chips * n;
         id += (i64)gridDim.x * blockDim.x) {
        i64 b = id / n;
        int i = (int)(id - b * n);
        i64 total = idc[id];
        for (int k = 0; k < 4; ++k) {
            i64 at = (b * 4 + k) * n + i;
            i64 s = isyn[at];
            s = s - ((s * dsyn[at]) >> 16) + (i64)c[at] * wsyn[at];
            s = s < ISYN_MAX ? s : ISYN_MAX;
            isyn[at] = (int)s;
            c[at] = 0.0f;
            total += k < 2 ? s : -s;
        }
        if (amplitude) {  /* the draw has 31 bits and 2 A + 1 < 2**32: a 32-bit remainder is exact */
            unsigned int draw = (unsigned int)(splitmix64(keys[b] + step_offset + neuron_ids[i]) >> 33);
            total += (i64)(draw %% (unsigned int)(2 * amplitude + 1)) - amplitude;
        }
        i64 u = v[id];
        u = u - ((u * dmem[id]) >> 16) + total;
        u = u < V_MIN ? V_MIN : (u > V_MAX ? V_MAX : u);
        int r = refr[id];
        if (r > 0 || !enabled[i]) {
            u = 0;
            r = r > 0 ? r - 1 : 0;
        }
        bool spike = u >= theta[id];
        if (spike) {
            u = 0;
            r = t_ref[id];
            atomicAdd(spike_work, (u64)fan_out[n_inputs + i]);
            if (count) fired_count[id] += 1;
        }
        v[id] = (int)u;
        refr[id] = r;
        src[b * (n_inputs + n) + n_inputs + i] = spike ? 1.0f : 0.0f;
    }
}
""" % {"isyn_max": ISYN_MAX, "v_min": V_RANGE[0], "v_max": V_RANGE[1]}


def input_work(x: np.ndarray, fan_out: np.ndarray, n_chips: int) -> np.ndarray:
    """Fan-out entries the input events of each step propagate, summed over chips [T]."""
    work = (x > 0).astype(np.int64) @ fan_out[: x.shape[-1]]  # [Bx, T]
    return work.sum(axis=0) * (n_chips // x.shape[0])


def _grid(elements: int) -> tuple[int]:
    """Blocks for a grid-stride loop over `elements` (at least one, at most 65535)."""
    return (min(max(elements, 1) + BLOCK - 1, 65535 * BLOCK) // BLOCK,)


class CupyKernel:
    """Runs a population's chips on the GPU; device tables are uploaded once."""

    def __init__(self, pop: Population, propagation: str = "auto"):
        import cupy  # noqa: PLC0415 - optional dependency

        self.cp, self.pop = cupy, pop
        module = cupy.RawModule(code=SOURCE)
        self._push, self._step = module.get_function("vc1_push"), module.get_function("vc1_step")
        self.events = propagation != "dense"
        self.dense = cupy.asarray(pop.dense()) if propagation != "events" else None
        self.fan_out = pop.fan_out
        upload = cupy.asarray
        self.tables = (upload(pop.indptr), upload(pop.targets))
        self.params = tuple(upload(a) for a in (pop.dmem, pop.dsyn, pop.wsyn, pop.theta, pop.idc, pop.t_ref))
        self.neuron = (upload(pop.enabled), upload(pop.index.astype(np.uint64)), upload(self.fan_out))

    def run(self, x: np.ndarray, keys: np.ndarray, amplitude: int, selected: np.ndarray, record_state: bool,
            count: bool = True) -> KernelOutput:
        """Spikes [B, T, K] of population positions `selected`, state (v, isyn, refr) or None,
        spike counts (per neuron, of the last step) or None."""
        cp, pop = self.cp, self.pop
        b, steps, m, n = keys.size, x.shape[1], pop.n_inputs, pop.index.size
        x_dev, keys_dev, selected_dev = cp.asarray(x), cp.asarray(keys.astype(np.uint64)), cp.asarray(selected)
        v, refr = cp.zeros((b, n), cp.int32), cp.zeros((b, n), cp.int32)
        isyn = cp.zeros((b, 4, n), cp.int32)
        c = cp.zeros((b, 4 * n), cp.float32)
        src = cp.zeros((b, m + n), cp.float32)
        spike_work = cp.zeros(steps, cp.uint64)
        fired_count = cp.zeros((b, n) if count else (1,), cp.int64)
        spikes = cp.zeros((b, steps, selected.size), bool)
        states = (cp.zeros((b, steps, n), cp.int32), cp.zeros((b, steps, 4, n), cp.int32),
                  cp.zeros((b, steps, n), cp.int32)) if record_state else None
        auto = self.dense is not None and self.events
        work = _LaggedWork(cp, input_work(x, self.fan_out, b)) if auto else None
        for t in range(steps):
            src[:, :m] = x_dev[:, t]
            if not self.events or (auto and prefer_dense(work.estimate(t), b, self.dense.size, GPU_EVENT_COST)):
                cp.matmul(src, self.dense, out=c)
            else:
                self._push(_grid(b * (m + n)), (BLOCK,), (src, *self.tables, c, np.int64(b * (m + n)),
                                                          np.int32(m + n), np.int32(n)))
            self._step(_grid(b * n), (BLOCK,),
                       (c, v, isyn, refr, src, spike_work[t:], fired_count, *self.params, *self.neuron, keys_dev,
                        np.uint64((t * STEP_STRIDE) % 2**64), np.int64(amplitude), np.int64(b), np.int32(n),
                        np.int32(m), np.int32(count)))
            if auto:
                work.fetch(spike_work, t)
            spikes[:, t] = src[:, m:][:, selected_dev] != 0
            if states is not None:
                states[0][:, t], states[1][:, t], states[2][:, t] = v, isyn, refr
        counts = (fired_count.get(), (src[:, m:] != 0).get()) if count else None
        if states is None:
            return spikes.get(), None, counts
        return spikes.get(), tuple(state.get().astype(np.int64) for state in states), counts


class _LaggedWork:
    """Propagation work per step: input events exactly, spikes as last received (asynchronously)."""

    def __init__(self, cp: Any, inputs: np.ndarray):
        import cupyx  # noqa: PLC0415 - optional dependency

        self.cp, self.inputs = cp, inputs
        self.pinned = cupyx.empty_pinned((1,), np.uint64)
        self.pending: Any = None  # the event after the copy in flight
        self.spikes = 0

    def estimate(self, t: int) -> int:
        if self.pending is not None and self.pending.done:
            self.spikes, self.pending = int(self.pinned[0]), None
        return int(self.inputs[t]) + self.spikes

    def fetch(self, spike_work: Any, t: int) -> None:
        """Start copying step t's spike work back, unless a copy is still in flight."""
        if self.pending is None:
            stream = self.cp.cuda.get_current_stream()
            self.cp.asnumpy(spike_work[t:t + 1], stream=stream, out=self.pinned, blocking=False)
            self.pending = stream.record()
