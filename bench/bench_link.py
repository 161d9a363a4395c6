"""The wire under corruption and through serial bridges.

Table 1 (`--table corruption`): `harness emulate --pty` runs as a subprocess; the host
reaches it through the fault injector (`drivers.faults`), which flips each byte with the
given probability in both directions (and, with --rate, paces the line to that many
bytes/s). Each condition loads the demo configuration and makes the same runs.

Table 2 (`--table lines`): the default compiled network (`harness run`'s: xor, ADS,
dynapse1; trained once into $HARNESS_CACHE) is loaded onto a virtual board served on TCP,
then 8 class-balanced test samples run, on an unlimited TCP line (socket://, clean and
with 1 % flipped bytes both ways), and through a TCP serial bridge (`drivers.bridge`:
64-byte pieces, 4 KiB buffers) at 11.4 kB/s (115 200 baud; clean) and 32 kB/s (clean and
with 1 % flips). "line s" is the line time of the bytes the bridge carried (both directions: the
load goes up, results come down, one after the other); "x line" the total over it (it
includes the board's compute time, the whole total of the unlimited line); "x clean" the
total over the same line's clean total.

Every result is checked bit for bit against the in-process emulator. Printed per
condition: seconds to load, to run, in all, the ratios, frames resent, and the host's
estimates of the line (delivery rate, byte error rate).

    python bench/bench_link.py [--table corruption|lines|all] [--steps 10,200] [--runs 5] [--state] [--rate B/s]
"""
from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import time
from typing import Iterator

import numpy as np
import serial

from drivers.board_server import BoardServer
from drivers.bridge import TcpBridge
from drivers.chip import RunResult
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.emulator import EmulatorChip
from drivers.endpoints import TcpEndpoint
from drivers.faults import FaultyPort, Faults
from drivers.link import POLL_S
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from sim.chip.config import ChipConfig

CORRUPTION = (0.0, 0.01, 0.05)
LINES = (("TCP, unlimited", None, (0.0, 0.01)),     # name, bridge rate (B/s; None: no bridge), flips
         ("bridge 11.4 kB/s", 11400.0, (0.0,)),
         ("bridge 32 kB/s", 32000.0, (0.0, 0.01)))
SAMPLES = 8
BOARD_SEED = 0
Case = tuple[np.ndarray, dict]   # inputs, run options


def reference(steps: list[int], runs: int, state: bool) -> tuple[ChipConfig, list[Case], list[RunResult]]:
    """The demo configuration, the runs to make, and their results on the in-process emulator."""
    local = open_chip("emulator")
    config = demo_config(local)
    local.load(config)
    cases = [(demo_inputs(local, steps=n), dict(noise_amplitude=20, noise_seed=seed, record_state=state))
             for n in steps for seed in range(runs)]
    return config, cases, [local.run(inputs, **run) for inputs, run in cases]


def default_network(samples: int) -> tuple[ChipConfig, list[Case], list[RunResult]]:
    """The default compiled network, `samples` class-balanced test samples, and their results
    on the in-process emulator (chip BOARD_SEED, as the virtual board)."""
    from harness.deploy import split_data
    from harness.networks import compile_for_chip, load_run_task, trained_network
    from harness.run_config import RunConfig
    from sim.chip.spec import load_spec

    config = RunConfig()
    task_id, method, spec = config.tasks[0], config.methods[0], config.specs[0]
    task = load_run_task(config, task_id)
    net, _ = trained_network(config, task, task_id, method)
    compiled = compile_for_chip(net, load_spec(spec), task)
    counts = compiled.encoder.encode(split_data(task, "test", samples).inputs)
    local = EmulatorChip(compiled.config.spec, BOARD_SEED)
    local.load(compiled.config)
    cases = [(sample, {}) for sample in counts]
    return compiled.config, cases, [local.run(inputs, **run) for inputs, run in cases]


def measure(port, name: str, config: ChipConfig, cases: list[Case],
            expected: list[RunResult]) -> tuple[float, float, SerialBoard]:
    """(seconds to load, seconds to run, the closed board) on `port`; results checked against `expected`."""
    with SerialBoard(port, name=name, link_timeout=30) as board:
        start = time.perf_counter()
        board.load(config)
        loaded = time.perf_counter()
        results = [board.run(inputs, **run) for inputs, run in cases]
        done = time.perf_counter()
    for want, result in zip(expected, results):
        assert_same_result(want, result, labels=("the in-process emulator", name))
    return loaded - start, done - loaded, board


def corruption_table(args: argparse.Namespace) -> None:
    config, cases, expected = reference([int(s) for s in args.steps.split(",")], args.runs, args.state)
    server = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", "emulate", "--pty"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().strip()
        print(f"pty: load + {args.runs} runs of {args.steps} steps{' with state' if args.state else ''}, "
              f"line rate {args.rate or 'unlimited'}; corruption in both directions")
        print(f"{'corrupt':>8} {'load s':>8} {'runs s':>8} {'total s':>8} {'ratio':>6} {'resent':>7} {'est. err':>9}")
        clean = None
        for corrupt in CORRUPTION:
            port = FaultyPort(serial.serial_for_url(url, timeout=POLL_S), Faults(corrupt=corrupt, rate=args.rate),
                              seed=1)
            load_s, run_s, board = measure(port, url, config, cases, expected)
            total = load_s + run_s
            clean = clean or total
            print(f"{corrupt:>8.0%} {load_s:>8.2f} {run_s:>8.2f} {total:>8.2f} {total / clean:>6.2f} "
                  f"{board.retransmits:>7} {board.line.byte_error_rate:>9.4f}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


@contextlib.contextmanager
def line_port(board_url: str, rate: float | None, corrupt: float) -> Iterator[tuple[object, TcpBridge | None]]:
    """A port to the board: direct socket:// (flips by the fault injector) or through a bridge."""
    if rate is None:
        yield FaultyPort(serial.serial_for_url(board_url, timeout=POLL_S), Faults(corrupt=corrupt), seed=1), None
        return
    with TcpBridge(board_url, rate=rate, faults=Faults(corrupt=corrupt), seed=1) as bridge:
        yield serial.serial_for_url(bridge.url, timeout=POLL_S), bridge


def lines_table(samples: int) -> None:
    config, cases, expected = default_network(samples)
    print(f"default compiled network ({config.spec.name}): load + {samples} test samples; "
          f"bridges forward 64-byte pieces with 4 KiB buffers; flips in both directions")
    print(f"{'line':>17} {'flips':>6} {'load s':>7} {'runs s':>7} {'total s':>8} {'line s':>7} {'x line':>7} "
          f"{'x clean':>8} {'resent':>7} {'rate kB/s':>10} {'est. err':>9}")
    with BackgroundServer(BoardServer(config.spec, BOARD_SEED), TcpEndpoint("127.0.0.1", 0)) as server:
        for name, rate, flips in LINES:
            clean = None
            for corrupt in flips:
                with line_port(server.url, rate, corrupt) as (port, bridge):
                    load_s, run_s, board = measure(port, name, config, cases, expected)
                total = load_s + run_s
                clean = clean or total
                line_s = sum(bridge.forwarded) / rate if bridge else float("nan")
                print(f"{name:>17} {corrupt:>6.0%} {load_s:>7.2f} {run_s:>7.2f} {total:>8.2f} {line_s:>7.2f} "
                      f"{total / line_s:>7.2f} {total / clean:>8.2f} {board.retransmits:>7} "
                      f"{board.line.rate / 1e3:>10.1f} {board.line.byte_error_rate:>9.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", choices=("corruption", "lines", "all"), default="all")
    parser.add_argument("--steps", default="10,200", help="table 1: comma-separated run lengths")
    parser.add_argument("--runs", type=int, default=5, help="table 1: runs of each length")
    parser.add_argument("--state", action="store_true", help="table 1: also record and transfer the full state")
    parser.add_argument("--rate", type=float, default=None, help="table 1: line rate limit in bytes/s (default: none)")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="table 2: test samples to run")
    args = parser.parse_args()
    if args.table in ("corruption", "all"):
        corruption_table(args)
    if args.table in ("lines", "all"):
        lines_table(args.samples)


if __name__ == "__main__":
    main()
