"""Boards in the loop: what boards under test add to a run, and whether they run concurrently.

The quick run (`harness run --quick`: 8 virtual chips, a small XOR task, 16 test samples
per chip) with 0, 1 and 6 loopback boards (`drivers.farm`: anonymous virtual boards, each
in its own process on a TCP port of 127.0.0.1), for each board engine: the emulator (a
Python step loop: each board needs a CPU core of its own) and the batched simulator (bit
for bit the same runs, one Numba thread per board). A warm-up run trains the quick network
into a private cache first, so every timed run reuses it. Printed per run: wall time, the
time the boards added to the run without boards, and the ratio of six boards' added time
to one board's — at most 2 when the boards run concurrently (each board does the same work).

    python bench/bench_boards.py [--boards 6] [--engines emulator,simulator] [--keep DIR]
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
    parser.add_argument("--keep", type=Path, help="keep the run directories here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-boards-"))
    env = {**os.environ, "HARNESS_CACHE": str(folder / "cache")}
    quick_run(folder, "warm-up", [], env)   # trains the quick network once, compiles the kernels
    baseline = quick_run(folder, "boards-0", [], env)
    rows = []
    for engine in args.engines.split(","):
        farm = start_farm([BoardPlan("dynapse1", 1000 + i, "spec", "127.0.0.1", 0, anonymous=True, engine=engine)
                           for i in range(args.boards)])
        try:
            quick_run(folder, f"{engine}-warm-up", [farm[0].url], env)  # the board process's first runs
            times = {n: quick_run(folder, f"{engine}-{n}", [b.url for b in farm[:n]], env) for n in (1, args.boards)}
        finally:
            stop_farm(farm)
        rows.append((engine, times))
    print(f"quick run (8 virtual chips) with loopback boards; {os.cpu_count()} CPU cores; "
          f"without boards {baseline:.1f} s")
    print(f"{'engine':>9} | {'boards':>6} | {'wall s':>7} | {'added s':>7} | added / one board's")
    print("-" * 58)
    for engine, times in rows:
        one = times[1] - baseline
        for n, seconds in times.items():
            added = seconds - baseline
            print(f"{engine:>9} | {n:>6} | {seconds:7.1f} | {added:7.1f} | {added / one:.2f}" if one > 0 else "")
    for engine, times in rows:
        one, many = times[1] - baseline, times[args.boards] - baseline
        print(f"{engine}: {args.boards} boards cost {many / one:.2f}x one board's added time (target: at most 2x); "
              f"one after another they would add about {args.boards * one:.0f} s")


if __name__ == "__main__":
    main()
