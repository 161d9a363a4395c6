"""The GPU kernel's CUDA source, checked on a machine without a GPU.

`nvcc`, when present, compiles it for the GPU. A C++ compiler runs the very same kernels
on the CPU: they are grid-stride loops, so one "thread" covers every element, and atomics
become plain adds. Driven step by step as `CupyKernel.run` drives them, with either
propagation path or both taking turns, they must reproduce the emulator bit for bit.
"""
import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivers.emulator import EmulatorChip
from sim.chip.kernel_cupy import SOURCE, input_work
from sim.chip.mismatch import batch_params
from sim.chip.noise import STEP_STRIDE, noise_keys
from sim.chip.population import Population
from tests.chip_factories import random_config, random_inputs

ROOT = Path(__file__).resolve().parents[1]
CPU_SHIM = r"""
struct Dim3 { unsigned int x; };
static const Dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
#define __global__
#define __device__
#define __forceinline__ inline
static inline float atomicAdd(float* a, float v) { float old = *a; *a += v; return old; }
static inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    unsigned long long old = *a; *a += v; return old;
}
"""
P, I64, I32, U64 = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int, ctypes.c_ulonglong


def test_importing_the_gpu_kernel_does_not_import_cupy():
    code = "import sys, sim.chip.batched, sim.chip.kernel_cupy; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc")
def test_cuda_source_compiles_for_the_gpu(tmp_path):
    (tmp_path / "vc1.cu").write_text(SOURCE)
    subprocess.run(["nvcc", "-ptx", "-arch=sm_80", "vc1.cu", "-o", "vc1.ptx"], cwd=tmp_path, check=True)
    assert ".entry vc1_step" in (tmp_path / "vc1.ptx").read_text()


@pytest.fixture(scope="module")
def cpu_kernels(tmp_path_factory):
    compiler = shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        pytest.skip("no C++ compiler")
    folder = tmp_path_factory.mktemp("cuda_on_cpu")
    (folder / "vc1.cpp").write_text(CPU_SHIM + SOURCE)
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "vc1.cpp", "-o", "vc1.so"], cwd=folder, check=True)
    lib = ctypes.CDLL(str(folder / "vc1.so"))
    lib.vc1_push.argtypes = [P, P, P, P, I64, I32, I32]
    lib.vc1_step.argtypes = [P] * 17 + [U64, I64, I64, I32, I32, I32]
    return lib


def run_on_cpu(lib, pop, x, keys, amplitude, dense_at):
    """CupyKernel.run with NumPy arrays; `dense_at(t)` picks the matrix product at step t."""
    b, steps, m, n = keys.size, x.shape[1], pop.n_inputs, pop.index.size
    v, refr, isyn = np.zeros((b, n), np.int32), np.zeros((b, n), np.int32), np.zeros((b, 4, n), np.int32)
    c, src = np.zeros((b, 4 * n), np.float32), np.zeros((b, m + n), np.float32)
    work = np.zeros(steps, np.uint64)
    fired_count = np.zeros((b, n), np.int64)
    dense, fan_out = pop.dense(), pop.fan_out
    params = [pop.dmem, pop.dsyn, pop.wsyn, pop.theta, pop.idc, pop.t_ref, pop.enabled,
              pop.index.astype(np.uint64), fan_out, keys]
    record = [np.zeros((b, steps, n), np.int64), np.zeros((b, steps, 4, n), np.int64),
              np.zeros((b, steps, n), np.int64), np.zeros((b, steps, n), bool)]
    for t in range(steps):
        src[:, :m] = x[:, t]
        if dense_at(t):
            c[:] = src @ dense
        else:
            lib.vc1_push(src.ctypes.data, pop.indptr.ctypes.data, pop.targets.ctypes.data, c.ctypes.data,
                         b * (m + n), m + n, n)
        lib.vc1_step(*(a.ctypes.data for a in (c, v, isyn, refr, src, work[t:], fired_count, *params)),
                     (t * STEP_STRIDE) % 2**64, amplitude, b, n, m, 1)
        record[0][:, t], record[1][:, t], record[2][:, t], record[3][:, t] = v, isyn, refr, src[:, m:] != 0
    return record, work, fired_count


@pytest.mark.parametrize("mode", ["events", "dense", "taking turns"])
@pytest.mark.parametrize("amplitude", [0, 300, 2**20, 2**31 - 1])
def test_cuda_kernels_on_the_cpu_equal_the_emulator(cpu_kernels, mode, amplitude):
    rng = np.random.default_rng([amplitude % 1000, len(mode)])
    config = random_config(rng, "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active", "extreme"))
    seeds = [5, 2**64 - 1, 5]
    inputs = random_inputs(rng, 30, 64, rate=0.1, batch=3)
    noise = np.array([1, 2, 3], np.uint64)
    pop = Population.build(config, batch_params(config, seeds), np.arange(config.spec.n_neurons))
    dense_at = {"events": lambda t: False, "dense": lambda t: True, "taking turns": lambda t: t % 3 == 0}[mode]
    (v, isyn, refr, spikes), work, fired_count = run_on_cpu(cpu_kernels, pop, inputs, noise_keys(seeds, noise), amplitude,
                                               dense_at)
    for i, seed in enumerate(seeds):
        chip = EmulatorChip(config.spec, chip_seed=seed)
        chip.load(config)
        ref = chip.run(inputs[i], noise_amplitude=amplitude, noise_seed=int(noise[i]), record_state=True)
        for name, got in (("spikes", spikes), ("v", v), ("isyn", isyn), ("refr", refr)):
            np.testing.assert_array_equal(getattr(ref, name), got[i], err_msg=f"{name} of chip {i} ({mode})")
    np.testing.assert_array_equal(work, (spikes * pop.fan_out[64:]).sum(axis=(0, 2)))
    np.testing.assert_array_equal(fired_count, spikes.sum(axis=1), err_msg="spike counts per neuron")
    assert spikes.any() or amplitude >= 2**30, "no activity: the test would mean little"  # (§5: one-sided noise)


def test_input_work_counts_the_fan_out_of_every_input_event():
    fan_out = np.array([3, 5, 7, 7])  # two inputs, then two neurons
    x = np.array([[[1, 0], [0, 0], [15, 2]]], np.uint8)  # one raster shared by every chip
    np.testing.assert_array_equal(input_work(x, fan_out, n_chips=4), [12, 0, 32])
    per_chip = np.array([[[1, 0]], [[1, 1]]], np.uint8)
    np.testing.assert_array_equal(input_work(per_chip, fan_out, n_chips=2), [11])
