"""Neuron-steps per second of the vc1 kernels, each against baselines measured in the same run.

Rows per batch size B: the pure-NumPy step loop ("vector"), the fused Numba kernel
("numba", the default CPU path), the fused CuPy kernel ("cupy", with a GPU; "cupy-events"
and "cupy-dense" force one propagation path, to tune GPU_EVENT_COST) and, with
`--rockpool-python`, Rockpool's JAX simulators (run by that interpreter: see
bench/bench_rockpool.py). Ratios are against the one-chip emulator and against the
first kernel listed, both measured in this run. Every rate, the vc1 kernels' and Rockpool's
alike, is that of the fastest of up to `--repeats` timed samples after a warm-up call; a
sample is back-to-back runs lasting at least 0.25 s (one run if longer), and a row stops
early once its samples have taken `--budget` seconds (at least two samples; bench/best_of.py,
and the "samples" column). So a B = 64 run of a few milliseconds and a B = 1024 run of a
few hundred are timed over windows of the same length: on a shared machine a single short
run can fall between other programs' work (B = 64 read 1.5x faster per neuron-step than
B = 1024 so, while equal windows in one process read them alike). Workload: bench/chip_workload.py
(dynapse1, N = 1024, fan_in 64, full CAM, Poisson inputs at 20 Hz, ~8 Hz activity).
Each B also gets a row "fused Numba, U of N used": the same workload with only `--used`
neurons (default 320, the default network's share of dynapse1) enabled and wired, the
others unused and left out of the step; its rates count all N chip neurons, so its ratio
to the full row is what skipping buys. The kernel rows run with the activity counters on
(the default); `--counters` adds, per
kernel and B, the rate with counters off and on (`--repeats` alternating pairs) and the
slowdown from counting (median over the pairs).

    python bench/bench_chip.py [--steps 200] [--batches 1,64,1024] [--kernels vector,numba]
                               [--noise 0] [--threads N] [--rockpool-python /tmp/rockvenv/bin/python]
                               [--used 320] [--repeats 5] [--compile-cost] [--counters]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from chip_workload import partly_used_config, poisson_inputs, random_config  # noqa: E402
from best_of import MIN_SAMPLE_S, best_of  # noqa: E402
from first_call import first_call_costs  # noqa: E402

from drivers.emulator import EmulatorChip  # noqa: E402
from sim.chip.batched import BatchedChips  # noqa: E402

KERNELS = {"vector": ("numpy", "vector", "auto"), "numba": ("numpy", "fused", "auto"),
           "cupy": ("cupy", "fused", "auto"), "cupy-events": ("cupy", "fused", "events"),
           "cupy-dense": ("cupy", "fused", "dense")}  # name: (backend, kernel, propagation)
LABELS = {"vector": "NumPy vector", "numba": "fused Numba", "cupy": "fused CuPy",
          "cupy-events": "CuPy events only", "cupy-dense": "CuPy dense only"}


def open_kernel(config, n_chips: int, inputs: np.ndarray, kernel: str, noise: int,
                threads: int | None) -> BatchedChips:
    """`n_chips` chips on one kernel, warmed up (kernels compiled, tables uploaded)."""
    backend, name, propagation = KERNELS[kernel]
    chips = BatchedChips(config, list(range(n_chips)), backend=backend, kernel=name, propagation=propagation,
                         threads=threads)
    chips.run(inputs[:5], noise_amplitude=noise)
    return chips


def run_once(chips: BatchedChips, inputs: np.ndarray, noise: int, count: bool = True) -> np.ndarray:
    """The spikes of every 8th neuron (the results come back to the host: a GPU has finished)."""
    return chips.run(inputs, noise_amplitude=noise, neurons=np.arange(0, chips.spec.n_neurons, 8), count=count).spikes


def timed_run(chips: BatchedChips, inputs: np.ndarray, noise: int, count: bool = True) -> float:
    """Neuron-steps per second of one run of `chips`."""
    start = time.perf_counter()
    run_once(chips, inputs, noise, count)
    return chips.n_chips * chips.spec.n_neurons * inputs.shape[0] / (time.perf_counter() - start)


def time_kernel(config, n_chips: int, inputs: np.ndarray, kernel: str, noise: int, threads: int | None,
                repeats: int, budget_s: float) -> tuple[float, float, int]:
    """(neuron-steps per second in the fastest sample, mean rate in Hz, samples timed) of one
    kernel on `n_chips` chips, counting; the samples as `best_of` makes them."""
    chips = open_kernel(config, n_chips, inputs, kernel, noise, threads)
    elapsed, samples, spikes = best_of(lambda: run_once(chips, inputs, noise), repeats, budget_s)
    return n_chips * chips.spec.n_neurons * inputs.shape[0] / elapsed, float(spikes.mean() * 1000), samples


def counter_cost(config, n_chips: int, inputs: np.ndarray, kernel: str, noise: int, threads: int | None,
                 repeats: int) -> tuple[float, float, float]:
    """(best rate with counters off, best rate with them on, median over pairs of off/on rate),
    runs alternating on one kernel: the median of paired ratios resists a load that drifts."""
    chips = open_kernel(config, n_chips, inputs, kernel, noise, threads)
    off, on = [], []
    for _ in range(repeats):
        off.append(timed_run(chips, inputs, noise, count=False))
        on.append(timed_run(chips, inputs, noise, count=True))
    return max(off), max(on), float(np.median(np.array(off) / np.array(on)))


def time_emulator(config, inputs: np.ndarray, noise: int, n_chips: int = 2) -> float:
    start = time.perf_counter()
    for seed in range(n_chips):
        chip = EmulatorChip(config.spec, seed)
        chip.load(config)
        chip.run(inputs, noise_amplitude=noise)
    return n_chips * config.spec.n_neurons * inputs.shape[0] / (time.perf_counter() - start)


def time_rockpool(python: str, n_chips: int, steps: int, repeats: int, budget_s: float) -> list[dict]:
    """Rockpool's rows from bench_rockpool.py run by another interpreter, timed by the same rule."""
    out = subprocess.run([python, str(BENCH / "bench_rockpool.py"), "--batch", str(n_chips), "--steps", str(steps),
                          "--repeats", str(repeats), "--budget", str(budget_s), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


FIRST_CALL_SETUP = """
from chip_workload import poisson_inputs, random_config
from sim.chip.batched import BatchedChips
chips = BatchedChips(random_config(), [0, 1], backend="numpy")
x = poisson_inputs(50, 64)
"""


def compile_cost() -> None:
    """First call of the fused Numba kernel in fresh processes: empty cache, then cache on disk."""
    for label, ready, first, second in first_call_costs(FIRST_CALL_SETUP, "chips.run(x)"):
        print(f"first call, fresh process, {label:24}: {first:6.2f} s  (second call {second:.3f} s, "
              f"import and set-up {ready:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batches", default="1,64,1024", help="comma-separated chip counts")
    parser.add_argument("--kernels", default="vector,numba", help=f"comma-separated, from {', '.join(KERNELS)}")
    parser.add_argument("--noise", type=int, default=0, help="noise amplitude A")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core)")
    parser.add_argument("--rockpool-python", help="interpreter with rockpool and jax (see bench_rockpool.py)")
    parser.add_argument("--used", type=int, default=320,
                        help="neurons used in the partly used row (0: no such row)")
    parser.add_argument("--compile-cost", action="store_true", help="also time the Numba kernel's first call")
    parser.add_argument("--counters", action="store_true", help="also time each kernel with counters off and on")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed samples per row at most (the fastest is shown), and pairs for --counters")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds of timed samples after which a row stops (after at least two)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    kernels = args.kernels.split(",")
    config = random_config()
    inputs = poisson_inputs(args.steps, config.spec.inputs)
    partly = partly_used_config(args.used) if args.used else None
    emulator = time_emulator(config, inputs, args.noise)
    print(f"dynapse1 (N={config.spec.n_neurons}, fan_in={config.spec.fan_in}, full CAM), Poisson inputs 20 Hz, "
          f"steps={args.steps}, noise A={args.noise}, {os.cpu_count()} CPUs")
    print(f"emulator, one chip at a time: {emulator:.3e} neuron-steps/s\n")
    print(f"rates: the fastest of up to {args.repeats} timed samples per row, each sample back-to-back runs "
          f"for >= {MIN_SAMPLE_S:g} s (fewer samples once a row's take {args.budget:g} s, at least 2), after a "
          f"warm-up call; vc1 kernels and Rockpool alike")
    print(f"{'B':>6}  {'kernel':<30} {'neuron-steps/s':>15} {'samples':>7} {'rate Hz':>8} {'x emulator':>11} "
          f"{'x ' + LABELS[kernels[0]]:>15}")
    for n_chips in (int(b) for b in args.batches.split(",")):
        timing = (args.noise, args.threads, args.repeats, args.budget)
        rows = [(LABELS[k], *time_kernel(config, n_chips, inputs, k, *timing)) for k in kernels]
        if partly is not None and "numba" in kernels:
            rows.append((f"fused Numba, {args.used} of {config.spec.n_neurons} used",
                         *time_kernel(partly, n_chips, inputs, "numba", *timing)))
        if args.rockpool_python:
            rows += [(f"Rockpool {r['model']}", r["neuron_steps_per_s"], r["rate_hz"], r["samples"])
                     for r in time_rockpool(args.rockpool_python, n_chips, args.steps, args.repeats, args.budget)]
        for label, rate, hz, samples in rows:
            print(f"{n_chips:>6}  {label:<30} {rate:>15.3e} {samples:>7} {hz:>8.1f} {rate / emulator:>11.1f} "
                  f"{rate / rows[0][1]:>15.2f}")
        if args.rockpool_python and "numba" in kernels:
            numba_rate = rows[kernels.index("numba")][1]
            best = max((row for row in rows if row[0].startswith("Rockpool")), key=lambda row: row[1])
            print(f"{'':>6}  fused Numba / best Rockpool ({best[0]}): {numba_rate / best[1]:.1f}x")
        if partly is not None and "numba" in kernels:
            used_rate = next(row[1] for row in rows if row[0].startswith("fused Numba,"))
            print(f"{'':>6}  {args.used} of {config.spec.n_neurons} used / all used (fused Numba): "
                  f"{used_rate / rows[kernels.index('numba')][1]:.2f}x")
    if args.counters:
        print(f"\nactivity counters off vs on ({args.repeats} alternating pairs; rates: best of each side; "
              f"slowdown: median over pairs of off/on - 1)")
        print(f"{'B':>6}  {'kernel':<30} {'off n-steps/s':>14} {'on n-steps/s':>14} {'slowdown':>9}")
        for n_chips in (int(b) for b in args.batches.split(",")):
            for kernel in kernels:
                off, on, ratio = counter_cost(config, n_chips, inputs, kernel, args.noise, args.threads,
                                              args.repeats)
                print(f"{n_chips:>6}  {LABELS[kernel]:<30} {off:>14.3e} {on:>14.3e} {100 * (ratio - 1):>8.1f}%")
    if args.compile_cost:
        print()
        compile_cost()


if __name__ == "__main__":
    main()
