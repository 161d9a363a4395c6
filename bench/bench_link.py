"""The wire under corruption: a load and runs on a virtual board, clean vs 1 % vs 5 % corrupted bytes.

`harness emulate --pty` runs as a subprocess; the host reaches it through the fault
injector (`drivers.faults`), which flips each byte with the given probability in both
directions (and, with --rate, paces the line to that many bytes/s). Each condition
loads the demo configuration and makes the same runs; every result is checked bit for
bit against the in-process emulator. Printed per condition: seconds to load, to run,
in all, the ratio to the clean line, frames resent, and the byte error rate the host
estimated.

    python bench/bench_link.py [--steps 10,200] [--runs 5] [--state] [--rate BYTES_PER_S]
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

import numpy as np
import serial

from drivers.chip import RunResult
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.faults import FaultyPort, Faults
from drivers.link import POLL_S
from drivers.serial_board import SerialBoard
from drivers.targets import open_chip
from sim.chip.config import ChipConfig

CORRUPTION = (0.0, 0.01, 0.05)
Case = tuple[np.ndarray, dict]   # inputs, run options


def reference(steps: list[int], runs: int, state: bool) -> tuple[ChipConfig, list[Case], list[RunResult]]:
    """The demo configuration, the runs to make, and their results on the in-process emulator."""
    local = open_chip("emulator")
    config = demo_config(local)
    local.load(config)
    cases = [(demo_inputs(local, steps=n), dict(noise_amplitude=20, noise_seed=seed, record_state=state))
             for n in steps for seed in range(runs)]
    return config, cases, [local.run(inputs, **run) for inputs, run in cases]


def measure(url: str, faults: Faults, config: ChipConfig, cases: list[Case],
            expected: list[RunResult]) -> tuple[float, float, SerialBoard]:
    """(seconds to load, seconds to run, the closed board) through `faults`; results checked
    against `expected`."""
    port = FaultyPort(serial.serial_for_url(url, timeout=POLL_S), faults, seed=1)
    with SerialBoard(port, name=url, link_timeout=30) as board:
        start = time.perf_counter()
        board.load(config)
        loaded = time.perf_counter()
        results = [board.run(inputs, **run) for inputs, run in cases]
        done = time.perf_counter()
    for want, result in zip(expected, results):
        assert_same_result(want, result, labels=("the in-process emulator", url))
    return loaded - start, done - loaded, board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="10,200", help="comma-separated run lengths")
    parser.add_argument("--runs", type=int, default=5, help="runs of each length")
    parser.add_argument("--state", action="store_true", help="also record and transfer the full state")
    parser.add_argument("--rate", type=float, default=None, help="line rate limit in bytes/s (default: none)")
    args = parser.parse_args()
    config, cases, expected = reference([int(s) for s in args.steps.split(",")], args.runs, args.state)
    server = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", "emulate", "--pty"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().strip()
        print(f"load + {args.runs} runs of {args.steps} steps{' with state' if args.state else ''}, "
              f"line rate {args.rate or 'unlimited'}; corruption in both directions")
        print(f"{'corrupt':>8} {'load s':>8} {'runs s':>8} {'total s':>8} {'ratio':>6} {'resent':>7} {'est. err':>9}")
        clean = None
        for corrupt in CORRUPTION:
            load_s, run_s, board = measure(url, Faults(corrupt=corrupt, rate=args.rate), config, cases, expected)
            total = load_s + run_s
            clean = clean or total
            error = board.line.byte_error_rate
            print(f"{corrupt:>8.0%} {load_s:>8.2f} {run_s:>8.2f} {total:>8.2f} {total / clean:>6.2f} "
                  f"{board.retransmits:>7} {error:>9.4f}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
