"""One row of docs/fidelity.md section 5.5: train a method, compile it for dynapse1, and
measure uncalibrated and calibrated (8 trials) yield on virtual chips at spec mismatch.

    python bench/method_steps.py NAME METHOD '{"train kwargs"}' [--chips 64] [--seed 0] [--shared] [--out DIR]

Trains `sim.methods.train(METHOD, xor seed S, seed=S, **kwargs)` (or loads DIR/NAME.npz when it
exists, so a row can be re-measured without retraining), compiles with
`harness.compiler.compile_network`, re-fits the readout on the nominal chip as `harness
compile` does (and, with --shared, also `harness.shared_readout.fit_across_chips` over 16
sampled chips), then runs chips 0..N-1 at spec with `harness.deploy.evaluate_deployments`
(32 class-balanced test samples per chip; yield = chips at accuracy >= 75 %). Prints one
line per readout: training seconds, mass the compiler dropped, nominal chip, yields.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from chip_yield import cell
from harness.compiler import compile_network
from harness.deploy import evaluate_deployments, refit_readout, task_for
from harness.shared_readout import fit_across_chips
from sim.methods import train
from sim.netfile import load_network, save_network
from sim.tasks import load_task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("method")
    ap.add_argument("kwargs", nargs="?", default="{}")
    ap.add_argument("--chips", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0, help="task and training seed")
    ap.add_argument("--shared", action="store_true", help="also measure the shared readout")
    ap.add_argument("--out", default="scratch/nets")
    args = ap.parse_args()
    path = Path(args.out) / f"{args.name}.npz"
    started = time.perf_counter()
    if path.exists():
        net = load_network(path)
    else:
        net = train(args.method, load_task("xor", args.seed), seed=args.seed, backend="numpy", **json.loads(args.kwargs))
        path.parent.mkdir(parents=True, exist_ok=True)
        save_network(net, path)
    seconds = net.meta["metrics"].get("seconds", net.meta["metrics"].get("train_time_s", time.perf_counter() - started))
    task = task_for(net.meta)
    compiled = compile_network(net, "dynapse1", task.train.inputs)
    dropped = {k: round(v["mass_dropped"], 2) for k, v in compiled.report["matrices"].items()}
    print(f"{args.name}: train {seconds:.0f} s, float test {net.meta['metrics']['test_accuracy']:.3f}, "
          f"mass dropped {dropped}", flush=True)
    readouts = [("nominal-chip re-fit", refit_readout(compiled, task, "numpy"))]
    if args.shared:
        readouts.append(("shared readout", fit_across_chips(compiled, task, chips=16, backend="numpy")))
    for label, c in readouts:
        nominal = evaluate_deployments(c, task, chip_seeds=[0], mismatch=0, samples=32, backend="numpy")[0][0]
        r = evaluate_deployments(c, task, chip_seeds=range(args.chips), mismatch="spec", samples=32, trials=(0, 8),
                                 backend="numpy")
        print(f"ROW {args.name} | {label} | nominal chip {100 * nominal:.1f} | {args.chips} chips at spec: "
              f"uncalibrated {cell(r[0])} | calibrated 8 {cell(r[8])} | {time.perf_counter() - started:.0f} s",
              flush=True)


if __name__ == "__main__":
    main()
