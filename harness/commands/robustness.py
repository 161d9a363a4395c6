"""`harness robustness`: the paper's robustness table for saved (or freshly trained) networks.

Rows are training methods (from each network's metadata), columns the perturbations of
`sim.perturb.DEFAULT_COLUMNS`; cells are the median and interquartile range of test
accuracy over networks × draws. With `--train`, networks are trained through
`sim.methods.METHODS` into `--out-dir` first; files already there are reused, so an
interrupted run resumes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sim.atomic import write_json
from sim.backend import BACKEND_NAMES, BackendError, get_backend
from sim.netfile import NetworkFileError, load_network, save_network
from sim.network import SpikingNetwork
from sim.perturb import format_table, robustness_table
from sim.tasks.base import Task


def _load_task(name: str, seed: int, test_samples: int | None) -> Task:
    try:
        from sim.tasks.registry import load_task  # noqa: PLC0415 - heavy, only when needed
    except ImportError as exc:
        raise click.ClickException(f"cannot load tasks: sim.tasks.registry is unavailable ({exc})") from None
    try:
        task = load_task(name, seed)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"task {name!r}: {exc}") from None
    if test_samples is not None:
        task.test = task.test.subset(slice(0, test_samples))
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
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="With --train: where networks go.")
@click.option("--draws", default=20, show_default=True, type=click.IntRange(1), help="Perturbation draws per network.")
@click.option("--test-samples", default=None, type=click.IntRange(1), help="Use only the first N test samples.")
@click.option("--task-seed", default=0, show_default=True, type=click.IntRange(0),
              help="Seed of the task whose test split every network is evaluated on.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Seed of the perturbation draws.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_NAMES))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the table and every per-draw accuracy as JSON.")
def robustness(networks: tuple[Path, ...], do_train: bool, task_name: str | None, methods: str, n_networks: int,
               out_dir: Path | None, draws: int, test_samples: int | None, task_seed: int, seed: int, backend: str,
               json_out: Path | None) -> None:
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
    if task_name is None:
        if len(tasks) != 1 or "None" in tasks:
            raise click.ClickException(f"networks name tasks {sorted(tasks)}; pick one with --task")
        task_name = tasks.pop()
    task = _load_task(task_name, task_seed, test_samples)
    try:
        table = robustness_table(nets, task, draws=draws, seed=seed, backend=be, progress=_progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"task {task.name}: {len(nets)} network(s), {draws} draw(s), {len(task.test)} test samples; "
               "median [25th-75th percentile] test accuracy in %")
    click.echo(format_table(table))
    if json_out is not None:
        table["files"] = [str(p) for p in paths]
        write_json(json_out, table)
        click.echo(f"-> {json_out}")


def _progress(record: dict[str, Any]) -> None:
    click.echo(f"  network {record['network']}: {record['column']}: median {record['median']:.3f}", err=True)
