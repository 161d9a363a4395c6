"""Training throughput: rate-teacher BPTT and network-ADS steps per second.

One "step" is one 1-ms time step of one sample (forward + backward for the teacher;
the feedback-driven learning step for ADS). Measured on NumPy with batch 1 (baseline)
and batch B, and on CuPy when present; prints a plain table with the ratio to the
NumPy batch-1 baseline of the same run. On NumPy the ADS steps run the fused Numba
kernel (`sim.kernels`); `bench/bench_training.py` compares it with the array code.

    python bench/bench_train.py [--steps 200] [--batch 32]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict

import numpy as np

from sim.ads import ADSConfig, init_ads, train_step
from sim.backend import Backend, cupy_available, get_backend
from sim.teacher import init_teacher, loss_and_grads


def _timed(fn, be: Backend) -> float:
    fn()  # warm-up
    be.synchronize()
    start = time.perf_counter()
    fn()
    be.synchronize()
    return time.perf_counter() - start


def bench_teacher(be: Backend, batch: int, steps: int, n_in: int = 16, hidden: int = 128) -> float:
    init = init_teacher(n_in, hidden, 1)
    params = {k: be.asarray(v, np.float32) for k, v in init.arrays().items()}
    tau = be.asarray(init.tau, np.float32)
    rng = np.random.default_rng(0)
    x = be.asarray(rng.random((batch, steps, n_in)), np.float32)
    y = be.asarray(rng.random((batch, steps, 1)), np.float32)
    m = be.asarray(np.ones((batch, steps), bool))
    return batch * steps / _timed(lambda: loss_and_grads(params, tau, x, y, m, be.xp), be)


def bench_ads(be: Backend, batch: int, steps: int, n_in: int = 16, hidden: int = 128, n: int = 768) -> float:
    config = ADSConfig(n_neurons=n)
    host = init_ads(init_teacher(n_in, hidden, 1), config, 0)
    weights = {k: be.asarray(v, np.float32) for k, v in asdict(host).items()}
    rng = np.random.default_rng(0)
    x = be.asarray(rng.random((batch, steps, n_in)), np.float32)
    latent = be.asarray(rng.normal(size=(batch, steps, hidden)), np.float32)
    return batch * steps / _timed(lambda: train_step(weights, x, latent, config, 100.0, 1.0, be.xp), be)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    runs = [("numpy", 1), ("numpy", args.batch)] + ([("cupy", args.batch)] if cupy_available() else [])
    rows = []
    for kind, bench in (("teacher BPTT 16-128-1", bench_teacher), ("ADS N=768 d=128", bench_ads)):
        base = None
        for name, batch in runs:
            rate = bench(get_backend(name), batch, args.steps)
            base = base or rate
            rows.append((kind, name, batch, rate, rate / base))
    print(f"{'workload':<24}{'backend':<8}{'batch':>6}{'steps/s':>12}{'vs numpy b=1':>14}")
    for kind, name, batch, rate, ratio in rows:
        print(f"{kind:<24}{name:<8}{batch:>6}{rate:>12.0f}{ratio:>13.1f}x")


if __name__ == "__main__":
    main()
