"""Runs/s and events/s through the serial path vs. the in-process emulator.

The same runs (dynapse1, demo configuration, Poisson inputs) go to an in-process
`EmulatorChip` (the baseline) and, through `SerialBoard`, to `harness emulate --pty`
started as a subprocess (the virtual board computes with the same emulator, so the
ratio is the cost of the wire: framing, CRC, deflate, round trips, the pty). Events =
input events sent + spike events received.

    python bench/bench_link.py [--steps 10,200] [--runs 5] [--state]
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

import numpy as np

from drivers.conformance import demo_config, demo_inputs
from drivers.targets import open_chip


def measure(chip, config, inputs: np.ndarray, runs: int, state: bool) -> tuple[float, float]:
    """(runs per second, events per second)."""
    chip.load(config)
    chip.run(inputs[:2])   # warm-up
    events = 0
    start = time.perf_counter()
    for seed in range(runs):
        result = chip.run(inputs, noise_amplitude=20, noise_seed=seed, record_state=state)
        events += int(np.count_nonzero(inputs)) + int(result.spikes.sum())
    elapsed = time.perf_counter() - start
    return runs / elapsed, events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="10,200", help="comma-separated run lengths")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--state", action="store_true", help="also record and transfer the full state")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", "emulate", "--pty"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        path = server.stdout.readline().strip()
        local, board = open_chip("emulator"), open_chip(path, timeout=10)
        config = demo_config(local)
        print(f"{'steps':>6} {'target':>10} {'runs/s':>9} {'events/s':>11} {'ratio':>6}")
        for steps in (int(s) for s in args.steps.split(",")):
            inputs = demo_inputs(local, steps=steps)
            base_runs, base_events = measure(local, config, inputs, args.runs, args.state)
            runs, events = measure(board, config, inputs, args.runs, args.state)
            print(f"{steps:>6} {'in-process':>10} {base_runs:>9.2f} {base_events:>11.0f} {1.0:>6.2f}")
            print(f"{steps:>6} {'pty':>10} {runs:>9.2f} {events:>11.0f} {runs / base_runs:>6.2f}")
        board.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
