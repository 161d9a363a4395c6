"""Neuron-steps per second of the batched vc1 simulator vs. the one-chip emulator.

The baseline is `drivers.emulator.EmulatorChip` (a straightforward per-step NumPy
implementation, one chip at a time), measured in the same run on a few chips; its rate
per chip does not depend on B. Workload: dynapse1 fully populated with a random CAM,
Poisson inputs at 20 Hz, ~5–20 Hz network activity.

    python bench/bench_chip.py [--steps 200] [--batches 1,64,1024] [--backend numpy|cupy]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chip_workload import poisson_inputs, random_config  # noqa: E402

from drivers.emulator import EmulatorChip  # noqa: E402
from sim.backend import get_backend  # noqa: E402
from sim.chip.batched import BatchedChips  # noqa: E402


def time_batched(config, n_chips: int, inputs: np.ndarray, backend: str, propagation: str) -> tuple[float, float]:
    """(neuron-steps per second, mean rate in Hz)."""
    chips = BatchedChips(config, list(range(n_chips)), backend=backend, propagation=propagation)
    chips.run(inputs[:5])  # warm-up (kernel compilation on CuPy)
    start = time.perf_counter()
    result = chips.run(inputs, neurons=np.arange(0, config.spec.n_neurons, 8))
    chips.backend.synchronize()
    elapsed = time.perf_counter() - start
    return n_chips * config.spec.n_neurons * inputs.shape[0] / elapsed, float(result.spikes.mean() * 1000)


def time_emulator(config, inputs: np.ndarray, n_chips: int = 2) -> float:
    start = time.perf_counter()
    for seed in range(n_chips):
        chip = EmulatorChip(config.spec, seed)
        chip.load(config)
        chip.run(inputs)
    return n_chips * config.spec.n_neurons * inputs.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batches", default="1,64,1024", help="comma-separated chip counts")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy", "auto"])
    parser.add_argument("--propagation", default="events,dense")
    args = parser.parse_args()
    backend = get_backend(args.backend).name
    config = random_config()
    inputs = poisson_inputs(args.steps, config.spec.inputs)
    baseline = time_emulator(config, inputs)
    print(f"backend={backend}  spec=dynapse1 (N=1024, fan_in=64, full CAM)  steps={args.steps}")
    print(f"baseline: emulator, one chip at a time: {baseline:.3e} neuron-steps/s\n")
    print(f"{'B':>6} {'propagation':>12} {'neuron-steps/s':>15} {'rate Hz':>8} {'x baseline':>11}")
    for n_chips in (int(b) for b in args.batches.split(",")):
        for propagation in args.propagation.split(","):
            rate, hz = time_batched(config, n_chips, inputs, backend, propagation)
            print(f"{n_chips:>6} {propagation:>12} {rate:>15.3e} {hz:>8.1f} {rate / baseline:>11.1f}")


if __name__ == "__main__":
    main()
