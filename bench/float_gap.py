"""Float-predicted vs chip-measured median accuracy, with the sampling noise of the gap
(docs/fidelity.md 5.12).

    python bench/float_gap.py NET.npz [NET.npz ...] [--chips 256] [--levels 0.05,0.1,0.2,spec]
        [--float-model compiled,network] [--own-numbers] [--samples 32] [--json FILE]

Per network, float model and level: `harness.commands.robustness.chip_comparison` (what
`harness robustness --chips N --float-model M` runs: N independent draws of the float model
against virtual chips 0..N-1, both readouts re-fitted on their own nominal spikes), then
the median and yield of each side, the median gap chip − float and its 95 % bootstrap
interval (chips and draws resampled independently, BOOTSTRAP times), for all N and for
the first 64 of each (the 64-chip protocol of 5.1). With --own-numbers also the float
model of the compiled network fed each chip's own random numbers (`ChipDraw.of_chips`, draw
d predicts chip d): its median, the gap and a paired bootstrap interval, and the
correlation over chips. Test data: `--samples` class-balanced test trials.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from chip_yield import yield_of
from harness.commands.robustness import chip_comparison
from harness.compiler.float_model import compiled_float, refit_readout
from harness.deploy import task_for
from sim.backend import get_backend
from sim.lif import lif_params, simulate
from sim.netfile import load_network
from sim.perturb import ChipDraw, ChipMismatch, apply_chip_mismatch
from sim.tasks.base import Task

BOOTSTRAP = 4000
PROTOCOL_CHIPS = 64  # chips per level in 5.1 and section 2
DRAWS_PER_CALL = 16  # chips' own numbers: draws simulated together


def gap_interval(chip: np.ndarray, model: np.ndarray, rng: np.random.Generator,
                 paired: bool = False) -> tuple[float, float]:
    """95 % bootstrap interval of median(chip) − median(model); `paired` resamples pairs."""
    n, m = len(chip), len(model)
    i = rng.integers(0, n, (BOOTSTRAP, n))
    j = i if paired else rng.integers(0, m, (BOOTSTRAP, m))
    gaps = np.median(chip[i], axis=1) - np.median(model[j], axis=1)
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return float(lo), float(hi)


def own_numbers(net_path: Path, task: Task, spec: str, level, chips: int) -> np.ndarray:
    """Accuracy of the compiled network's float model on the test split, draw d realised with
    chip d's own random numbers (chips 0..chips-1)."""
    model = refit_readout(compiled_float(load_network(net_path), spec, task.train.inputs), task.train)
    be = get_backend("numpy")
    accuracy = []
    for first in range(0, chips, DRAWS_PER_CALL):
        seeds = list(range(first, min(first + DRAWS_PER_CALL, chips)))
        draw = ChipDraw.of_chips(ChipMismatch(level, spec), seeds, model.chip_id)
        params = lif_params(model.net, be, draws=len(seeds))
        params.w_in_neg = np.repeat(model.w_in_neg.astype(params.w_in.dtype)[None], len(seeds), axis=0)
        apply_chip_mismatch(params, draw, np)
        outputs = simulate(params, task.test.inputs, be).outputs
        accuracy.append(np.atleast_1d(task.accuracy(outputs, task.test)))
    return np.concatenate(accuracy)


def parse_level(text: str):
    return text if text == "spec" else float(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", type=Path)
    parser.add_argument("--chips", type=int, default=256)
    parser.add_argument("--levels", default="0.05,0.1,0.2,spec")
    parser.add_argument("--float-model", default="compiled", help="comma-separated: compiled, network")
    parser.add_argument("--own-numbers", action="store_true")
    parser.add_argument("--spec", default="dynapse1")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    levels = [parse_level(x.strip()) for x in args.levels.split(",")]
    rng = np.random.default_rng(0)
    print(f"{'network':<14} {'model':<9} {'level':<10} {'float med/yield':>15} {'chip med/yield':>15} "
          f"{'gap':>6} {'95 % interval':>15} {f'gap {PROTOCOL_CHIPS}':>7} {f'interval {PROTOCOL_CHIPS}':>15}")
    records = []
    for path in args.networks:
        net = load_network(path)
        task = task_for(net.meta)
        task.test = task.test.balanced(args.samples, task.n_classes)
        for model in args.float_model.split(","):
            table = chip_comparison([net], task, chips=args.chips, spec=args.spec, levels=levels, seed=0,
                                    backend=get_backend("numpy"), refit=True, float_model=model)
            for level, label in zip(levels, table["levels"]):
                cell = table["networks"][0]["levels"][label]
                f, c = np.asarray(cell["float"]), np.asarray(cell["chip"])
                record = {"network": str(path), "float_model": model, "level": str(level), "chips": args.chips,
                          "float": f.tolist(), "chip": c.tolist(), "gap": float(np.median(c) - np.median(f)),
                          "interval": gap_interval(c, f, rng),
                          f"gap_{PROTOCOL_CHIPS}": float(np.median(c[:PROTOCOL_CHIPS]) - np.median(f[:PROTOCOL_CHIPS])),
                          f"interval_{PROTOCOL_CHIPS}": gap_interval(c[:PROTOCOL_CHIPS], f[:PROTOCOL_CHIPS], rng)}
                print(f"{path.stem:<14} {model:<9} {label:<10} "
                      f"{100 * np.median(f):>8.1f} / {100 * yield_of(f):>3.0f}% {100 * np.median(c):>8.1f} / "
                      f"{100 * yield_of(c):>3.0f}% {100 * record['gap']:>+6.1f} "
                      f"[{100 * record['interval'][0]:+5.1f},{100 * record['interval'][1]:+5.1f}] "
                      f"{100 * record[f'gap_{PROTOCOL_CHIPS}']:>+7.1f} "
                      f"[{100 * record[f'interval_{PROTOCOL_CHIPS}'][0]:+5.1f},"
                      f"{100 * record[f'interval_{PROTOCOL_CHIPS}'][1]:+5.1f}]", flush=True)
                if args.own_numbers and model == "compiled":
                    own = own_numbers(path, task, args.spec, level, args.chips)
                    lo, hi = gap_interval(c, own, rng, paired=True)
                    corr = float(np.corrcoef(own, c)[0, 1]) if own.std() > 0 and c.std() > 0 else float("nan")
                    record["own_numbers"] = {"float": own.tolist(), "gap": float(np.median(c) - np.median(own)),
                                             "interval": (lo, hi), "correlation": corr}
                    print(f"{path.stem:<14} {'own nums':<9} {label:<10} {100 * np.median(own):>8.1f} / "
                          f"{100 * yield_of(own):>3.0f}% {'':>15} {100 * record['own_numbers']['gap']:>+6.1f} "
                          f"[{100 * lo:+5.1f},{100 * hi:+5.1f}] correlation {corr:.2f}", flush=True)
                records.append(record)
    if args.json is not None:
        args.json.write_text(json.dumps(records))


if __name__ == "__main__":
    main()
