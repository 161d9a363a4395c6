"""docs/fidelity.md 5.11: the reduced keyword ADS network's yield with each readout, judged
on chips 0..31 and 32..127 at spec (uncalibrated and calibrated with 8 trials).

    python bench/keyword_readouts.py NET [--readouts shared,shared-normalised] [--chips 128] [--split 32]

NET: a network from `harness train --task keyword --method ads --train-samples 128
--val-samples 32 --test-samples 64 --duration-ms 2000 [--fast-fan-in 8 --slow-fan-in 16]`.
Per readout (`harness.readout_fit.ReadoutFit`, as `harness compile --readout` fits it on
sampled chips that are never judged): the nominal chip's test accuracy, then yield (median)
uncalibrated / calibrated on chips 0..split-1, split..chips-1 and all of them (32
class-balanced test samples per chip; yield = chips at accuracy >= 75 %).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from chip_yield import cell
from harness.deploy import evaluate_deployments, task_for
from harness.readout_fit import ReadoutFit, compile_for_chip
from harness.run_config import READOUTS
from sim.netfile import load_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("net", type=Path)
    parser.add_argument("--readouts", default="shared,shared-normalised")
    parser.add_argument("--chips", type=int, default=128)
    parser.add_argument("--split", type=int, default=32)
    args = parser.parse_args()
    net = load_network(args.net)
    task = task_for(net.meta)
    ranges = (range(args.split), range(args.split, args.chips))
    print("| readout | nominal chip | " + " | ".join(f"chips {r.start}..{r.stop - 1} uncal. / cal." for r in ranges)
          + f" | {args.chips} chips uncal. / cal. |")
    for name in args.readouts.split(","):
        if name not in READOUTS:
            raise SystemExit(f"--readouts: {name!r} is not one of {', '.join(READOUTS)}")
        compiled = compile_for_chip(net, "dynapse1", task, readout=ReadoutFit(name, "spec", range(args.chips)))
        nominal = evaluate_deployments(compiled, task, mismatch=0, samples=32)[0][0]
        runs = [evaluate_deployments(compiled, task, chip_seeds=r, mismatch="spec", samples=32, trials=(0, 8))
                for r in ranges]
        cells = [f"{cell(r[0])} / {cell(r[8])}" for r in runs]
        pooled = f"{cell(np.concatenate([r[0] for r in runs]))} / {cell(np.concatenate([r[8] for r in runs]))}"
        print(f"| {name} | {100 * nominal:.1f} | " + " | ".join(cells) + f" | {pooled} |", flush=True)


if __name__ == "__main__":
    main()
