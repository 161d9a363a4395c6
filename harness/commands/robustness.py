"""`harness robustness`: the paper's robustness table for saved (or freshly trained) networks.

Rows are training methods (from each network's metadata), columns the perturbations of
`sim.perturb.DEFAULT_COLUMNS`; cells are the median and interquartile range of test
accuracy over networks × draws. With `--train`, networks are trained through
`sim.methods.METHODS` into `--out-dir` first; files already there are reused, so an
interrupted run resumes.

With `--chips N`, a second table sets a float model against the chip: for every network and
mismatch level of `--chip-levels`, the median test accuracy over N draws of
`sim.perturb.ChipMismatch` (float-predicted) and over N virtual chips of `--spec` (seeds
0..N-1) running the compiled network, uncalibrated (chip-measured), and the yield: the
fraction of draws or chips at accuracy >= 0.75. The float model is by default the float
model of the compiled network (`harness.compiler.float_model`: what the compiler realised,
mapped back to float weights, each synapse type with its own τ under mismatch;
`--float-model network`: the float network itself, one τ per synapse class). Both
sides re-fit their readout on their own nominal spikes of the training split (the chip's
as `harness compile --readout nominal` does), unless `--no-refit`, where both keep the
float network's readout.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.commands.outputs import outputs_apart, writable
import numpy as np

from sim.atomic import write_json
from sim.backend import BACKEND_NAMES, Backend, BackendError, get_backend
from sim.chip.mismatch import MismatchError, MismatchLevel, resolve_cv
from sim.chip.spec import DEFAULT_SPEC, SpecError, load_spec
from sim.netfile import NetworkFileError, load_network, save_network
from sim.network import SpikingNetwork
from sim.perturb import ChipMismatch, Perturbation, evaluate, format_table, robustness_table
from sim.tasks.base import Task

YIELD_ACCURACY = 0.75  # a chip (or float draw) counts toward the yield at this test accuracy
FLOAT_MODELS = {"compiled": "float model of the compiled network", "network": "float network"}


def _load_task(name: str, seed: int, test_samples: int | None, task_meta: dict[str, Any] | None = None) -> Task:
    """Task `name` split with `seed`; with `task_meta` (a network's record of the task it was
    trained on: sizes, or the user's data file) the same task rebuilt with that seed."""
    try:
        from sim.tasks.registry import load_task, rebuild_task  # noqa: PLC0415 - heavy, only when needed
    except ImportError as exc:
        raise click.ClickException(f"cannot load tasks: sim.tasks.registry is unavailable ({exc})") from None
    try:
        task = load_task(name, seed) if task_meta is None else rebuild_task(name, {**task_meta, "seed": seed})
        if test_samples is not None:
            task.test = task.test.balanced(test_samples, task.n_classes)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"task {name!r}: {exc}") from None
    return task


def _train(task_name: str, methods: list[str], networks: int, out_dir: Path, backend: str) -> list[Path]:
    """Train `networks` seeds of every method into `out_dir`, skipping files already there."""
    try:
        from sim.methods import METHODS, train  # noqa: PLC0415 - imports every trainer
    except ImportError as exc:
        raise click.ClickException(f"cannot train: sim.methods is unavailable ({exc})") from None
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise click.ClickException(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(sorted(METHODS))}")
    paths = []
    for method in methods:
        for seed in range(networks):
            path = out_dir / f"{task_name}-{method}-seed{seed}.npz"
            if not path.exists():
                click.echo(f"training {method} seed {seed} ...", err=True)
                task = _load_task(task_name, seed, None)
                save_network(train(method, task, seed=seed, backend=backend), path)
            paths.append(path)
    return paths


def _load_networks(paths: list[Path]) -> list[SpikingNetwork]:
    try:
        return [load_network(p) for p in paths]
    except NetworkFileError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.argument("networks", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--train", "do_train", is_flag=True, help="Train networks into --out-dir first (reusing files there).")
@click.option("--task", "task_name", default=None, help="Task to evaluate on (default: the networks' task).")
@click.option("--methods", default="ads,bptt,force,reservoir", show_default=True,
              help="With --train: comma-separated training methods.")
@click.option("--networks", "n_networks", default=5, show_default=True, type=click.IntRange(1),
              help="With --train: networks (seeds 0..n-1) per method.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), callback=writable,
              help="With --train: where networks go.")
@click.option("--draws", default=20, show_default=True, type=click.IntRange(1), help="Perturbation draws per network.")
@click.option("--test-samples", default=None, type=click.IntRange(1), help="Use N class-balanced test samples.")
@click.option("--task-seed", default=None, type=click.IntRange(0),
              help="Seed of the task whose test split every network is evaluated on "
                   "(default: the seed the networks' task was built with when they agree, else 0).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Seed of the perturbation draws.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_NAMES))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Also write the table and every per-draw accuracy as JSON.")
@click.option("--chips", default=0, show_default=True, type=click.IntRange(0),
              help="Also compare the chip-faithful float model with N virtual chips per mismatch level (0: skip).")
@click.option("--chip-levels", default="0.05,0.1,0.2,spec", show_default=True,
              help="With --chips: comma-separated mismatch levels (fractions or 'spec').")
@click.option("--spec", default=DEFAULT_SPEC, show_default=True, help="With --chips: chip spec to compile for.")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="With --chips: re-fit the readout on the nominal chip's spikes, as `harness compile --readout nominal` "
                   "does (and the compiled float model's on its own nominal spikes).")
@click.option("--float-model", type=click.Choice(FLOAT_MODELS), default="compiled", show_default=True,
              help="With --chips: what predicts the chips: the float model of the compiled network, or the float "
                   "network itself.")
@click.option("--float-table/--no-float-table", default=True, show_default=True,
              help="The paper's perturbation table (--no-float-table: only the chip comparison).")
@outputs_apart(inputs=("networks", "task_name"), outputs=("json_out",))
def robustness(networks: tuple[Path, ...], do_train: bool, task_name: str | None, methods: str, n_networks: int,
               out_dir: Path | None, draws: int, test_samples: int | None, task_seed: int | None, seed: int, backend: str,
               json_out: Path | None, chips: int, chip_levels: str, spec: str, refit: bool, float_model: str,
               float_table: bool) -> None:
    """Accuracy of NETWORKS (.npz) under mismatch, quantisation, noise and neuron death."""
    try:
        be = get_backend(backend)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from None
    paths = list(networks)
    if do_train:
        if task_name is None or out_dir is None:
            raise click.ClickException("--train needs --task and --out-dir")
        paths += _train(task_name, [m.strip() for m in methods.split(",") if m.strip()], n_networks, out_dir, be.name)
    if not paths:
        raise click.ClickException("no networks: give NET.npz files or --train")
    nets = _load_networks(paths)
    tasks = {str(n.meta.get("task")) for n in nets}
    task_meta = None
    if task_name is None:
        if len(tasks) != 1 or "None" in tasks:
            raise click.ClickException(f"networks name tasks {sorted(tasks)}; pick one with --task")
        task_name, task_meta = tasks.pop(), nets[0].meta.get("task_meta") or {}
    if task_seed is None:
        recorded = {int((n.meta.get("task_meta") or {}).get("seed", 0)) for n in nets}
        task_seed = recorded.pop() if len(recorded) == 1 else 0
    task = _load_task(task_name, task_seed, test_samples, task_meta)
    levels = _levels(chip_levels, spec) if chips else []
    table: dict[str, Any] = {}
    try:
        if float_table:
            table = robustness_table(nets, task, draws=draws, seed=seed, backend=be, progress=_progress)
            click.echo(f"task {task.name}: {len(nets)} network(s), {draws} draw(s), {len(task.test)} test samples; "
                       "median [25th-75th percentile] test accuracy in %")
            click.echo(format_table(table))
        if chips:
            table["chip_comparison"] = chip_comparison(nets, task, chips=chips, spec=spec, levels=levels, seed=seed,
                                                       backend=be, refit=refit, float_model=float_model)
            click.echo(f"float-predicted ({FLOAT_MODELS[float_model]}, sim.perturb.ChipMismatch, {chips} draws) vs "
                       f"chip-measured ({chips} virtual {spec} chips, uncalibrated), "
                       f"{'readouts re-fitted on their nominal spikes' if refit else 'the float readout'}, "
                       f"{len(task.test)} test samples; yield: accuracy >= {YIELD_ACCURACY}, in %")
            click.echo(format_comparison(table["chip_comparison"]))
    except ValueError as exc:  # also harness.compiler.CompileError
        raise click.ClickException(str(exc)) from None
    if json_out is not None:
        table["files"] = [str(p) for p in paths]
        write_json(json_out, table)
        click.echo(f"-> {json_out}")


def chip_comparison(nets: list[SpikingNetwork], task: Task, *, chips: int, spec: str, levels: list[MismatchLevel],
                    seed: int, backend: Backend, refit: bool, float_model: str = "compiled") -> dict[str, Any]:
    """Float-predicted (by `float_model`, a key of FLOAT_MODELS) vs chip-measured test accuracy
    per network and mismatch level.

    Returns {"spec", "chips", "refit", "float_model", "levels": labels, "networks": [{"method",
    "seed", "levels": {label: {"float": [N], "chip": [N]}}}], "methods": {method: {label:
    {"float", "chip": {"median", "yield"}}}}} with accuracies pooled over a method's networks."""
    from harness.compiler import compile_network  # noqa: PLC0415 - the chip side, only with --chips
    from harness.deploy import evaluate_batched, refit_readout  # noqa: PLC0415

    if float_model not in FLOAT_MODELS:
        raise ValueError(f"float model {float_model!r}: choose from {', '.join(FLOAT_MODELS)}")
    records = []
    labels = [ChipMismatch(level, spec).label for level in levels]
    for i, net in enumerate(nets):
        compiled = compile_network(net, spec, task.train.inputs)
        if refit:
            compiled = refit_readout(compiled, task, backend.name)
        model, w_in_neg = _float_side(net, task, spec, float_model, refit, backend)
        cells = {}
        for level, label in zip(levels, labels):
            mismatch = ChipMismatch(level, spec, per_type_tau=float_model == "compiled")
            predicted = evaluate(model, task, Perturbation(chip=mismatch), draws=chips, seed=seed, backend=backend,
                                 w_in_neg=w_in_neg)
            measured = evaluate_batched(compiled, task, chip_seeds=range(chips), mismatch=level, backend=backend.name)
            cells[label] = {"float": predicted.tolist(), "chip": measured.tolist()}
            click.echo(f"  network {i}: {label}: float {np.median(predicted):.3f}, chip {np.median(measured):.3f}",
                       err=True)
        records.append({"method": str(net.meta.get("method", "unknown")), "seed": net.meta.get("seed"),
                        "levels": cells})
    methods = {}
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method]
        methods[method] = {label: {side: _median_and_yield(np.concatenate([r["levels"][label][side] for r in mine]))
                                   for side in ("float", "chip")} for label in labels}
    return {"spec": spec, "chips": chips, "refit": refit, "float_model": float_model, "levels": labels,
            "networks": records, "methods": methods}


def _float_side(net: SpikingNetwork, task: Task, spec: str, float_model: str, refit: bool,
                backend: Backend) -> tuple[SpikingNetwork, np.ndarray | None]:
    """(network, separate weights of the inputs' negative parts or None) that predicts the chips:
    `net` itself, or the float model of its compilation with, if `refit`, its readout re-fitted
    on its own nominal spikes of the training split."""
    if float_model == "network":
        return net, None
    from harness.compiler.float_model import compiled_float, refit_readout  # noqa: PLC0415 - only with --chips

    model = compiled_float(net, spec, task.train.inputs)
    if refit:
        model = refit_readout(model, task.train, backend.name)
    return model.net, model.w_in_neg


def _median_and_yield(accuracy: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(accuracy)), "yield": float(np.mean(accuracy >= YIELD_ACCURACY))}


def format_comparison(table: dict[str, Any]) -> str:
    """One line per method and level: float-predicted and chip-measured median and yield in %."""
    lines = [f"{'method':<10} {'level':<10} {'float median':>12} {'chip median':>11} {'chip - float':>12} "
             f"{'float yield':>11} {'chip yield':>10}"]
    for method, cells in table["methods"].items():
        for label, cell in cells.items():
            f, c = cell["float"], cell["chip"]
            lines.append(f"{method:<10} {label:<10} {100 * f['median']:>12.1f} {100 * c['median']:>11.1f} "
                         f"{100 * (c['median'] - f['median']):>+12.1f} {100 * f['yield']:>11.0f} "
                         f"{100 * c['yield']:>10.0f}")
    return "\n".join(lines)


def _levels(text: str, spec: str) -> list[MismatchLevel]:
    """'0.05,0.1,spec' -> [0.05, 0.1, 'spec'], each checked against `spec`."""
    try:
        chip_spec = load_spec(spec)
        levels: list[MismatchLevel] = [item if item == "spec" else float(item)
                                       for item in (part.strip() for part in text.split(",")) if item]
        for level in levels:
            resolve_cv(level, chip_spec)
    except (ValueError, SpecError, MismatchError) as exc:
        raise click.ClickException(f"--chip-levels {text!r} / --spec {spec!r}: {exc}") from None
    return levels


def _progress(record: dict[str, Any]) -> None:
    click.echo(f"  network {record['network']}: {record['column']}: median {record['median']:.3f}", err=True)
