"""Boards in the loop: what boards under test add to a run, and whether they run concurrently.

The quick run (`harness run --quick`: 8 virtual chips, a small XOR task, 16 test samples
per chip) with 0, 1 and 6 loopback boards (`drivers.farm`: anonymous virtual boards, each
in its own process on a TCP port of 127.0.0.1), for each board engine: the emulator (a
Python step loop: each board needs a CPU core of its own) and the batched simulator (bit
for bit the same runs, one Numba thread per board). A warm-up run trains the quick network
into a private cache first, so every timed run reuses it. Printed per run: wall time, the
time the boards added to the run without boards, and the ratio of six boards' added time
to one board's — at most 2 when the boards run concurrently (each board does the same work).
The cases are interleaved and repeated, and the fastest run of each counts: on a shared
machine a busy spell would otherwise land on one case.

    python bench/bench_boards.py [--boards 6] [--engines emulator,simulator] [--repeat 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drivers.farm import BoardPlan, start_farm, stop_farm

HARNESS = [sys.executable, "-c", "from harness.cli import main; main()"]


def quick_run(folder: Path, name: str, urls: list[str], env: dict[str, str]) -> float:
    """Seconds of `harness run --quick` with `urls` as boards under test (exit 0 or 1 expected)."""
    boards = [arg for url in urls for arg in ("--board", url)]
    start = time.perf_counter()
    result = subprocess.run([*HARNESS, "run", "--quick", "--no-progress", "--out", str(folder / name), *boards],
                            capture_output=True, text=True, env=env, timeout=3600)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{name}: harness run exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", type=int, default=6, help="boards of the largest farm")
    parser.add_argument("--engines", default="emulator,simulator",
                        help="what computes the boards' runs (harness emulate --engine), comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each case; the fastest counts")
    parser.add_argument("--keep", type=Path, help="keep the run directories here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-boards-"))
    env = {**os.environ, "HARNESS_CACHE": str(folder / "cache")}
    quick_run(folder, "warm-up", [], env)   # trains the quick network once, compiles the kernels
    engines = args.engines.split(",")
    farms = {engine: start_farm([BoardPlan("dynapse1", 1000 + i, "spec", "127.0.0.1", 0, anonymous=True,
                                           engine=engine) for i in range(args.boards)]) for engine in engines}
    cases = [("—", 0), *((engine, n) for engine in engines for n in (1, args.boards))]
    times: dict[tuple[str, int], float] = {}
    try:
        for engine in engines:
            quick_run(folder, f"{engine}-warm-up", [farms[engine][0].url], env)  # a board process's first runs
        for attempt in range(args.repeat):  # cases interleaved, so that a busy spell hits them alike
            for engine, n in cases:
                urls = [b.url for b in farms[engine][:n]] if n else []
                seconds = quick_run(folder, f"{engine}-{n}-{attempt}", urls, env)
                times[engine, n] = min(seconds, times.get((engine, n), seconds))
    finally:
        for farm in farms.values():
            stop_farm(farm)
    baseline = times["—", 0]
    print(f"quick run (8 virtual chips) with loopback boards; {os.cpu_count()} CPU cores; fastest of {args.repeat}")
    print(f"{'engine':>9} | {'boards':>6} | {'wall s':>7} | {'added s':>7} | added / one board's")
    print("-" * 58)
    for engine, n in cases:
        added, one = times[engine, n] - baseline, times.get((engine, 1), baseline) - baseline
        ratio = f"{added / one:.2f}" if n and one > 0 else "—"
        print(f"{engine:>9} | {n:>6} | {times[engine, n]:7.1f} | {added:7.1f} | {ratio}")
    for engine in engines:
        one, many = times[engine, 1] - baseline, times[engine, args.boards] - baseline
        if one > 0:
            print(f"{engine}: {args.boards} boards cost {many / one:.2f}x one board's added time (target: at most "
                  f"2x); one after another they would add about {args.boards * one:.0f} s")


if __name__ == "__main__":
    main()
