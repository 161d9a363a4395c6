"""What candidates cost: `harness train --task xor --method ads --candidates 3` against one
network (the default), as issue 20 asked of the best-of-3 default it once had (at most 3x).

Rows, each `harness train` in a fresh process, in turn, `--repeat` rounds:
- `--candidates 1`: one network, the default and the baseline;
- `--candidates 3`, one by one: `harness.selection.worker_threads` forced to 1;
- `--candidates 3`: the candidates trained and scored on threads (`sim.concurrency.worker_threads`).
The table gives each row's fastest round (wall seconds) and the CPU seconds of that round
(user + system of the process), each as a ratio to the baseline. Both `--candidates 3`
rows train the same networks (their scores are checked to agree).

    python bench/bench_candidates.py [--repeat 3] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = "import sys; from harness.cli import main; sys.argv[0] = 'harness'; main()"
SEQUENTIAL = "import harness.selection as s; s.worker_threads = lambda jobs: 1; " + HARNESS
CHOICE = ("import json, sys; from sim.netfile import load_network; "
          "print(json.dumps(load_network(sys.argv[1]).meta.get('selection', {}).get('scores')))")


def timed_train(prefix: list[str], args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `harness train` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*prefix, "train", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    harness = [sys.executable, "-c", HARNESS]
    rows = {"--candidates 1 (default, baseline)": (harness, ["--candidates", "1"]),
            "--candidates 3, one by one": ([sys.executable, "-c", SEQUENTIAL], ["--candidates", "3"]),
            "--candidates 3 (on threads)": (harness, ["--candidates", "3"])}
    best: dict[str, tuple[float, float]] = {}
    scores: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeat):
            for label, (prefix, extra) in rows.items():
                out = str(Path(scratch) / "net.npz")
                timing = timed_train(prefix, ["--task", "xor", "--method", "ads", "--seed", str(args.seed),
                                              "--out", out, *extra])
                best[label] = min(best.get(label, timing), timing)
                scores[label] = subprocess.run([sys.executable, "-c", CHOICE, out], check=True, capture_output=True,
                                               text=True).stdout.strip()
    if scores["--candidates 3, one by one"] != scores["--candidates 3 (on threads)"]:
        raise SystemExit(f"the threaded selection chose differently: {scores}")
    base_wall, base_cpu = best["--candidates 1 (default, baseline)"]
    print(f"harness train --task xor --method ads --seed {args.seed}; {os.cpu_count()} CPUs; "
          f"fastest of {args.repeat} rounds; scores {json.loads(scores['--candidates 3 (on threads)'])}")
    print(f"{'row':<36}{'wall s':>8}{'vs 1':>7}{'CPU s':>8}{'vs 1':>7}")
    for label, (wall, cpu) in best.items():
        print(f"{label:<36}{wall:>8.1f}{wall / base_wall:>6.2f}x{cpu:>8.1f}{cpu / base_cpu:>6.2f}x")


if __name__ == "__main__":
    main()
