"""Where the default run's training time goes: `sim.methods.train("ads", xor)` stage by stage.

The default `harness run` network (XOR at the default sizes, seed 0, NumPy) is trained on
the fused Numba kernels (`sim.kernels`, the CPU default: "fused") and on the array code
that CuPy runs (`sim.kernels.disabled()`: "array"), both in this run, each in a fresh
process after a small warm-up training that loads (or compiles) the kernels. Stages: the
teacher's BPTT (`loss_and_grads`) and validation (`evaluate_teacher`), the ADS trials
(`train_step`), ADS validation (`latent_nmse`), the spike readout fit
(`fit_spike_readout`), the test accuracy (`sim.perturb.nominal_accuracy`) and the rest of the
call. The teacher runs the same array code on both paths. Also printed: each path's
metrics (they should agree closely, not bit for bit: the kernels sum in another order).

    python bench/bench_training.py [--seed 0] [--paths fused,array] [--compile-cost]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

from first_call import first_call_costs
from harness.run_config import DEFAULT_SIZES
from sim import kernels
from sim.methods import train
from sim.tasks.xor import make_xor

BENCH = Path(__file__).resolve().parent
STAGES = {  # label: (module, function) timed while it runs
    "teacher BPTT": ("sim.teacher", "loss_and_grads"),
    "teacher validation": ("sim.teacher", "evaluate_teacher"),
    "ADS trials": ("sim.ads", "train_step"),
    "ADS validation": ("sim.ads", "latent_nmse"),
    "readout fit": ("sim.ads", "fit_spike_readout"),
    "test accuracy": ("sim.methods", "nominal_accuracy"),
}
METRICS = ("teacher_test_accuracy", "latent_nmse_test", "decoder_test_accuracy", "ads_test_accuracy",
           "test_accuracy")
PATHS = {"fused": nullcontext, "array": kernels.disabled}


def tiny_training() -> None:
    """A training small enough to time the kernels' first calls (and to warm them up)."""
    train("ads", make_xor(n_train=8, n_val=4, n_test=4, n_steps=450), n_neurons=16, epochs=1, backend="numpy",
          teacher_epochs=1)


def _timer(fn: Callable[..., Any], label: str, seconds: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start
    return timed


@contextmanager
def timed_stages(seconds: dict[str, float]) -> Iterator[None]:
    """Add each stage's time to `seconds` while inside (the stage functions are wrapped)."""
    originals = []
    for label, (module_name, name) in STAGES.items():
        module = importlib.import_module(module_name)
        originals.append((module, name, getattr(module, name)))
        setattr(module, name, _timer(getattr(module, name), label, seconds))
    try:
        yield
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)


def profile(path: str, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """(seconds per stage with "other" and "total", metrics) of one default training."""
    task = make_xor(seed=seed, **DEFAULT_SIZES)
    seconds: dict[str, float] = {}
    with PATHS[path](), timed_stages(seconds):
        start = time.perf_counter()
        net = train("ads", task, seed=seed, backend="numpy")
        total = time.perf_counter() - start
    seconds["other"] = total - sum(seconds.values())
    seconds["total"] = total
    return seconds, net.meta["metrics"]


def compile_cost() -> None:
    """A tiny training in fresh processes: empty kernel cache (compiles), then cache on disk."""
    for label, ready, first, second in first_call_costs("from bench_training import tiny_training",
                                                        "tiny_training()"):
        print(f"tiny training, fresh process, {label:24}: first {first:6.2f} s, second {second:.2f} s "
              f"(imports {ready:.2f} s)")


def profile_in_child(path: str, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """`profile` in a fresh process after a warm-up, so that every path trains under the same
    conditions (the first training of a process, as `harness run` trains)."""
    out = subprocess.run([sys.executable, __file__, "--profile", path, "--seed", str(seed)], check=True,
                         capture_output=True, text=True, cwd=BENCH.parent).stdout
    seconds, metrics = json.loads(out.splitlines()[-1])
    return seconds, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paths", default="fused,array", help=f"comma-separated, from {', '.join(PATHS)}")
    parser.add_argument("--compile-cost", action="store_true", help="also time the kernels' first calls")
    parser.add_argument("--profile", choices=list(PATHS), help=argparse.SUPPRESS)  # one path, in a child process
    args = parser.parse_args()
    if args.profile:
        tiny_training()  # warm-up: loads (or compiles) the kernels
        print(json.dumps(profile(args.profile, args.seed)))
        return
    paths = args.paths.split(",")
    results = {path: profile_in_child(path, args.seed) for path in paths}
    print(f"train('ads', xor {DEFAULT_SIZES}, seed={args.seed}), NumPy, {os.cpu_count()} CPUs; seconds, "
          "each path in a fresh process")
    base = paths[-1]
    print(f"{'stage':<20}" + "".join(f"{p:>10}" for p in paths) + f"{base + ' / ' + paths[0]:>18}")
    for stage in (*STAGES, "other", "total"):
        row = [results[p][0].get(stage, 0.0) for p in paths]
        ratio = row[-1] / row[0] if row[0] > 0 else float("nan")
        print(f"{stage:<20}" + "".join(f"{s:>10.2f}" for s in row) + f"{ratio:>17.1f}x")
    print()
    for name in METRICS:
        print(f"{name:<24}" + "".join(f"{results[p][1][name]:>10.4f}" for p in paths))
    if args.compile_cost:
        print()
        compile_cost()


if __name__ == "__main__":
    main()
