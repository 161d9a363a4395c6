"""Float-predicted vs chip-measured median accuracy, with the sampling noise of the gap
(docs/fidelity.md 5.12).

    python bench/float_gap.py NET.npz [NET.npz ...] [--chips 256] [--levels 0.05,0.1,0.2,spec]
        [--float-model compiled,network] [--own-numbers] [--samples 32] [--json FILE]

Per network, float model and level: `harness.commands.robustness.chip_comparison` (what
`harness robustness --chips N --float-model M` runs: N independent draws of the float model
against virtual chips 0..N-1, both readouts re-fitted on their own nominal spikes), then
the median and yield of each side (float / chip), the median gap and the yield gap chip −
float with 95 % bootstrap intervals (chips and draws resampled independently, BOOTSTRAP
times), and the median gap of the first 64 chips and draws alone (the 64-chip protocol of
5.1). With --own-numbers also the float model of the compiled network fed each chip's own
random numbers (`ChipDraw.of_chips`, draw d predicts chip d), with paired intervals; the
JSON has its correlation with the chips. Test data: `--samples` class-balanced test trials.
--json writes every accuracy and statistic.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from chip_yield import YIELD_AT, yield_of
from harness.commands.robustness import chip_comparison
from harness.compiler.float_model import CompiledFloat, compiled_float, refit_readout
from harness.deploy import task_for
from sim.backend import get_backend
from sim.lif import lif_params, simulate
from sim.netfile import load_network
from sim.perturb import ChipDraw, ChipMismatch, apply_chip_mismatch
from sim.tasks.base import Task

BOOTSTRAP = 4000
PROTOCOL_CHIPS = 64  # chips per level in 5.1 and section 2
DRAWS_PER_CALL = 16  # chips' own numbers: draws simulated together


def gap_intervals(chip: np.ndarray, model: np.ndarray, rng: np.random.Generator,
                  paired: bool = False) -> dict[str, tuple[float, float]]:
    """95 % bootstrap intervals of the median gap median(chip) − median(model) and the yield
    gap; `paired` resamples (chip d, draw d) pairs, otherwise each side on its own."""
    n, m = len(chip), len(model)
    i = rng.integers(0, n, (BOOTSTRAP, n))
    j = i if paired else rng.integers(0, m, (BOOTSTRAP, m))
    gaps = {"median": np.median(chip[i], axis=1) - np.median(model[j], axis=1),
            "yield": np.mean(chip[i] >= YIELD_AT, axis=1) - np.mean(model[j] >= YIELD_AT, axis=1)}
    return {name: tuple(float(x) for x in np.percentile(g, [2.5, 97.5])) for name, g in gaps.items()}


def gaps(chip: np.ndarray, model: np.ndarray, rng: np.random.Generator, paired: bool = False) -> dict:
    """Median and yield of the model, the gaps chip − model and their intervals."""
    return {"float": model.tolist(), "median": float(np.median(model)), "yield": yield_of(model),
            "median_gap": float(np.median(chip) - np.median(model)), "yield_gap": yield_of(chip) - yield_of(model),
            "interval": gap_intervals(chip, model, rng, paired)}


def pct(x: float) -> str:
    return f"{100 * x:+.1f}"


def span(interval: tuple[float, float]) -> str:
    return f"[{pct(interval[0])}, {pct(interval[1])}]"


def own_numbers(model: CompiledFloat, task: Task, spec: str, level, chips: int) -> np.ndarray:
    """Accuracy of the compiled network's float `model` on the test split, draw d realised
    with chip d's own random numbers (chips 0..chips-1)."""
    be = get_backend("numpy")
    accuracy = []
    for first in range(0, chips, DRAWS_PER_CALL):
        seeds = list(range(first, min(first + DRAWS_PER_CALL, chips)))
        draw = ChipDraw.of_chips(ChipMismatch(level, spec), seeds, model.chip_id)
        params = lif_params(model.net, be, draws=len(seeds))
        params.w_in_neg = np.repeat(model.w_in_neg.astype(params.w_in.dtype)[None], len(seeds), axis=0)
        apply_chip_mismatch(params, draw, np, per_type_tau=True)
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
    print(f"{'network':<10} {'model':<9} {'level':<10} {'float':>12} {'chip':>12} {'median gap [95 %]':>22} "
          f"{'yield gap [95 %]':>22} {f'first {PROTOCOL_CHIPS}: median gap [95 %]':>32}")
    records = []
    for path in args.networks:
        net = load_network(path)
        task = task_for(net.meta)
        task.test = task.test.balanced(args.samples, task.n_classes)
        model_of_chips = refit_readout(compiled_float(net, args.spec, task.train.inputs), task.train) \
            if args.own_numbers else None
        for model in args.float_model.split(","):
            table = chip_comparison([net], task, chips=args.chips, spec=args.spec, levels=levels, seed=0,
                                    backend=get_backend("numpy"), refit=True, float_model=model)
            for level, label in zip(levels, table["levels"]):
                cell = table["networks"][0]["levels"][label]
                f, c = np.asarray(cell["float"]), np.asarray(cell["chip"])
                record = {"file": str(path), "level": str(level), "chips": args.chips, "chip": c.tolist(),
                          model: gaps(c, f, rng),
                          f"{model}_first_{PROTOCOL_CHIPS}": gaps(c[:PROTOCOL_CHIPS], f[:PROTOCOL_CHIPS], rng)}
                rows = [(model, record[model], record[f"{model}_first_{PROTOCOL_CHIPS}"])]
                if args.own_numbers and model == "compiled":
                    own = own_numbers(model_of_chips, task, args.spec, level, args.chips)
                    record["own_numbers"] = gaps(c, own, rng, paired=True)
                    record["own_numbers"]["correlation"] = float(np.corrcoef(own, c)[0, 1]) \
                        if own.std() > 0 and c.std() > 0 else None
                    rows.append(("own nums", record["own_numbers"], None))
                for name, g, first in rows:
                    print(f"{path.stem:<10} {name:<9} {label:<10} {100 * g['median']:>5.1f} / {100 * g['yield']:>3.0f}% "
                          f"{100 * np.median(c):>5.1f} / {100 * yield_of(c):>3.0f}% "
                          f"{pct(g['median_gap']):>6} {span(g['interval']['median']):>15} "
                          f"{pct(g['yield_gap']):>6} {span(g['interval']['yield']):>15} "
                          + ("" if first is None else f"{pct(first['median_gap']):>16} "
                                                      f"{span(first['interval']['median']):>15}"), flush=True)
                records.append(record)
    if args.json is not None:
        args.json.write_text(json.dumps(records))


if __name__ == "__main__":
    main()
