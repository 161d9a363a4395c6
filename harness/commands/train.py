"""`harness train`: train a spiking network on a task and save it."""
from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from sim.backend import BACKEND_NAMES, BackendError
from sim.methods import METHODS
from sim.netfile import save_network


class _Bar:
    """A tqdm bar per training stage, fed by the methods' progress dicts."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.stage: str | None = None

    def __call__(self, report: dict) -> None:
        stage = str(report.get("stage", "train"))
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=report.get("total"), desc=stage, unit="step", dynamic_ncols=True)
        assert self.bar is not None
        if "step" in report:
            self.bar.n = int(report["step"])
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in report.items()
                              if isinstance(v, float) and k not in ("step", "total")}, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@click.command()
@click.option("--task", "task_name", default="xor", show_default=True, help="xor, keyword, or a path to a .npz data set.")
@click.option("--method", default="ads", show_default=True, type=click.Choice(sorted(METHODS)))
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_NAMES))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output network .npz.")
@click.option("--neurons", type=click.IntRange(1), default=None, help="Spiking neurons (default: the method's, per task).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Training epochs (default: the method's, per task).")
@click.option("--teacher-epochs", type=click.IntRange(1), default=None, help="ads only: maximum rate-teacher epochs.")
@click.option("--train-samples", type=click.IntRange(1), default=None, help="Training-set size (xor, keyword).")
@click.option("--val-samples", type=click.IntRange(1), default=None, help="Validation-set size (xor, keyword).")
@click.option("--test-samples", type=click.IntRange(1), default=None, help="Test-set size (xor, keyword).")
@click.option("--duration-ms", type=click.IntRange(1), default=None, help="keyword only: clip length in ms.")
def train(task_name: str, method: str, backend: str, seed: int, out: Path, neurons: int | None,
          epochs: int | None, teacher_epochs: int | None, train_samples: int | None, val_samples: int | None,
          test_samples: int | None, duration_ms: int | None) -> None:
    """Train a spiking network with METHOD on TASK; print its test accuracy and save it."""
    from sim.methods import train as run_training  # noqa: PLC0415
    from sim.tasks import TaskError, UserDataError, load_task  # noqa: PLC0415

    sizes = {"n_train": train_samples, "n_val": val_samples, "n_test": test_samples, "duration_ms": duration_ms}
    try:
        task = load_task(task_name, seed, **sizes)
    except (TaskError, UserDataError) as exc:
        raise click.ClickException(str(exc)) from None
    extra = {"teacher_epochs": teacher_epochs} if method == "ads" else {}
    bar = _Bar()
    try:
        net = run_training(method, task, n_neurons=neurons, epochs=epochs, seed=seed, backend=backend,
                           progress=bar, **extra)
    except (BackendError, ImportError) as exc:
        raise click.ClickException(f"method {method!r}: {exc}") from None
    finally:
        bar.close()
    save_network(net, out)
    metrics = net.meta["metrics"]
    extra_info = "".join(f", {k} {metrics[k]:.3f}" for k in ("teacher_test_accuracy", "latent_nmse_test") if k in metrics)
    click.echo(f"{method} on {task.name}: test accuracy {metrics['test_accuracy']:.3f}{extra_info} "
               f"({net.n_neurons} neurons) -> {out}")
