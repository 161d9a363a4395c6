"""docs/fidelity.md 5.9: the best of N candidates, compiled with R copies and a readout,
judged uncalibrated and calibrated (8 trials) on virtual chips at spec.

    python bench/deploy_choices.py [--seeds 0,1,2,3,4,5] [--candidates 3] [--replicas 1] [--readout shared|nominal|shared-normalised]
                                   [--chips 64] [--nets DIR]

Per seed: the seed's candidates (`harness.selection.candidate_seeds`, ADS sharing the rate
teacher, as `harness train --candidates N`; loaded from DIR/x-sS-kK.npz when saved there
before, so other R and readouts reuse them), each compiled with R copies
(`compile_network(..., replicas=R)`) and its readout re-fitted (`ReadoutFit`: the guarded
shared readout, never on the judged chips, or the nominal chip), scored uncalibrated on the
16 selection chips (validation split, `chip_score`), and the best one judged on chips
0..N-1 at spec (32 class-balanced test samples; yield = chips at accuracy >= 75 %).
Prints one JSON line per seed, then the means.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from chip_yield import yield_of
from harness.deploy import evaluate_batched, evaluate_deployments
from harness.selection import SELECTION_CHIPS, candidate_seeds, chip_score, selection_seeds, shared_teacher
from harness.readout_fit import ReadoutFit, compile_for_chip
from harness.run_config import READOUTS
from sim.methods import train
from sim.netfile import load_network, save_network
from sim.network import SpikingNetwork
from sim.tasks import load_task
from sim.tasks.base import Task


def candidates(seed: int, n: int, nets: Path) -> tuple[Task, list[SpikingNetwork]]:
    """The XOR task of `seed` and its first `n` ADS candidates, trained once and kept under `nets`."""
    task = load_task("xor", seed)
    paths = [nets / f"x-s{seed}-k{k}.npz" for k in range(n)]
    if not all(p.is_file() for p in paths):
        teacher = shared_teacher(task, seed)
        for path, candidate_seed in zip(paths, candidate_seeds(seed, n)):
            if not path.is_file():
                save_network(train("ads", task, seed=candidate_seed, teacher=teacher), path)
    return task, [load_network(p) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4,5")
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--readout", choices=READOUTS, default="shared")
    parser.add_argument("--chips", type=int, default=64)
    parser.add_argument("--nets", type=Path, default=Path("scratch/candidates"))
    args = parser.parse_args()
    args.nets.mkdir(parents=True, exist_ok=True)
    judged = range(args.chips)
    readout = ReadoutFit(args.readout, "spec", judged)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        task, nets = candidates(seed, args.candidates, args.nets)
        compiled = [compile_for_chip(net, "dynapse1", task, readout=readout, replicas=args.replicas) for net in nets]
        scores = [chip_score(evaluate_batched(c, task, split="val", samples=64,
                                              chip_seeds=selection_seeds(SELECTION_CHIPS, judged)))
                  for c in compiled]
        chosen = int(np.argmax(scores))
        r = evaluate_deployments(compiled[chosen], task, chip_seeds=judged, mismatch="spec", samples=32, trials=(0, 8))
        row = {"seed": seed, "candidates": args.candidates, "replicas": args.replicas, "readout": args.readout,
               "scores": scores, "chosen": chosen, "uncalibrated": yield_of(r[0]),
               "median": float(np.median(r[0])), "calibrated": yield_of(r[8])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"mean over {len(rows)} seeds: uncalibrated {100 * np.mean([r['uncalibrated'] for r in rows]):.1f} %, "
          f"calibrated {100 * np.mean([r['calibrated'] for r in rows]):.1f} %")


if __name__ == "__main__":
    main()
