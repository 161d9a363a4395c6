"""`harness train`: train a spiking network on a task and save it."""
from __future__ import annotations

from pathlib import Path

import click
from harness.commands.outputs import outputs_apart, writable
from harness.progress import StageBars
from harness.selection import SELECTION_CHIPS
from sim.backend import BACKEND_NAMES, BackendError
from sim.methods import METHODS
from sim.netfile import save_network


def _mismatch_level(ctx: click.Context, param: click.Parameter, value: str | None) -> float | str | None:
    """'spec', or a level like 0.1 or 10% as a fraction."""
    if value is None or value == "spec":
        return value
    try:
        return float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected spec, a fraction like 0.1 or a percentage like 10%") from None


# options that only some methods take
OPTION_METHODS = {"--fast-fan-in": ("ads",), "--slow-fan-in": ("ads", "bptt"), "--chips": ("bptt",),
                  "--worst-quantile": ("bptt",), "--weight-bits": ("bptt",), "--tau-syn": ("bptt",),
                  "--lr": ("bptt",), "--gradual-prune/--one-cut": ("ads",), "--select-chips": ("ads",)}


@click.command()
@click.option("--task", "task_name", default="xor", show_default=True, help="xor, keyword, or a path to a .npz data set.")
@click.option("--method", default="ads", show_default=True, type=click.Choice(sorted(METHODS)))
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_NAMES))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Output network .npz.")
@click.option("--neurons", type=click.IntRange(1), default=None, help="Spiking neurons (default: the method's, per task).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Training epochs (default: the method's, per task).")
@click.option("--teacher-epochs", type=click.IntRange(1), default=None, help="ads only: maximum rate-teacher epochs.")
@click.option("--train-samples", type=click.IntRange(1), default=None, help="Training-set size (xor, keyword).")
@click.option("--val-samples", type=click.IntRange(1), default=None, help="Validation-set size (xor, keyword).")
@click.option("--test-samples", type=click.IntRange(1), default=None, help="Test-set size (xor, keyword).")
@click.option("--duration-ms", type=click.IntRange(1), default=None, help="keyword only: clip length in ms.")
@click.option("--hardware-aware", "hardware_aware", is_flag=False, flag_value="spec", default=None,
              callback=_mismatch_level, metavar="[LEVEL]",
              help="ads, bptt: train on a freshly sampled dynapse1 chip per minibatch, at mismatch LEVEL "
                   "(spec, 0.1, 10%; alone: spec).")
@click.option("--fast-fan-in", type=click.IntRange(0), default=None,
              help="ads only: keep each neuron's N strongest fast recurrent weights (0: all; default: the task's).")
@click.option("--slow-fan-in", type=click.IntRange(0), default=None,
              help="ads: by the end of the first feedback level keep each neuron's N strongest slow weights and train "
                   "on within them (0: all; default: the task's). bptt: each neuron keeps its N strongest "
                   "initial recurrent weights and only those learn (default 0: all).")
@click.option("--chips", type=click.IntRange(1), default=None,
              help="bptt with --hardware-aware: chips sampled per minibatch (its trials split among them; default 1).")
@click.option("--worst-quantile", type=click.FloatRange(0, 1), default=None,
              help="bptt with --hardware-aware: add the mean loss of the worst Q fraction of the minibatch's chips "
                   "(default 0: the mean alone).")
@click.option("--weight-bits", type=click.IntRange(2), default=None,
              help="bptt only: train with w_in and w_slow quantised to N bits (straight-through), as "
                   "harness compile --weight-bits realises them.")
@click.option("--tau-syn", type=click.FloatRange(1), default=None,
              help="bptt only: slow synapses' and readout's time constant in ms (default 70; 200 holds the XOR "
                   "memory in the slow currents, docs/fidelity.md 5.5).")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=None,
              help="bptt only: Adam step relative to each parameter's initial spread (default 5e-4).")
@click.option("--gradual-prune/--one-cut", "slow_gradual", default=None,
              help="ads only: prune the slow weights to --slow-fan-in step by step over the first feedback level, "
                   "or in one cut at its end (default: the task's).")
@click.option("--select-chips", type=click.IntRange(0), default=None,
              help="ads only: keep the feedback level that does best on N dynapse1 chips sampled at spec (at "
                   "--hardware-aware's level if given) on the validation split (0: on the nominal network; default: "
                   "the task's).")
@click.option("--candidates", type=click.IntRange(1), default=None,
              help="train N candidates (ads: sharing the rate teacher) and keep the one that does best uncalibrated "
                   "on dynapse1 chips sampled at spec, validation split (harness.selection; default 1).")
@click.option("--selection-chips", type=click.IntRange(1), default=None,
              help=f"with --candidates: sampled chips each candidate is scored on (default {SELECTION_CHIPS}; "
                   "seeds from 2**62 up, never the chips a run judges).")
@outputs_apart(inputs=("task_name",), outputs=("out",))
def train(task_name: str, method: str, backend: str, seed: int, out: Path, neurons: int | None,
          epochs: int | None, teacher_epochs: int | None, train_samples: int | None, val_samples: int | None,
          test_samples: int | None, duration_ms: int | None, hardware_aware: float | str | None,
          fast_fan_in: int | None, slow_fan_in: int | None, chips: int | None, worst_quantile: float | None,
          weight_bits: int | None, tau_syn: float | None, lr: float | None, slow_gradual: bool | None,
          select_chips: int | None, candidates: int | None, selection_chips: int | None) -> None:
    """Train a spiking network with METHOD on TASK; print its test accuracy and save it."""
    from harness.selection import default_candidates, select_network  # noqa: PLC0415
    from sim.tasks import TaskError, UserDataError, load_task  # noqa: PLC0415

    sizes = {"n_train": train_samples, "n_val": val_samples, "n_test": test_samples, "duration_ms": duration_ms}
    try:
        task = load_task(task_name, seed, **sizes)
    except (TaskError, UserDataError) as exc:
        raise click.ClickException(str(exc)) from None
    given = {"--fast-fan-in": fast_fan_in, "--slow-fan-in": slow_fan_in, "--chips": chips,
             "--worst-quantile": worst_quantile, "--weight-bits": weight_bits, "--tau-syn": tau_syn, "--lr": lr,
             "--gradual-prune/--one-cut": slow_gradual, "--select-chips": select_chips}
    wrong = [flag for flag, value in given.items() if value is not None and method not in OPTION_METHODS[flag]]
    if wrong:
        allowed = " and ".join(sorted({m for flag in wrong for m in OPTION_METHODS[flag]}))
        raise click.ClickException(f"{', '.join(wrong)}: for method {allowed} only, not {method!r}")
    if method == "ads":
        extra = {"teacher_epochs": teacher_epochs, "fast_fan_in": fast_fan_in, "slow_fan_in": slow_fan_in,
                 "slow_gradual": slow_gradual, "select_chips": select_chips}
    elif method == "bptt":
        options = {"fan_in": slow_fan_in, "chips": chips, "worst": worst_quantile, "weight_bits": weight_bits,
                   "tau_syn": tau_syn, "lr": lr}
        extra = {k: v for k, v in options.items() if v is not None}
    else:
        extra = {}
    candidates = default_candidates(task.name, method) if candidates is None else candidates
    if selection_chips is not None and candidates == 1:
        raise click.ClickException("--selection-chips: only with --candidates 2 or more (one candidate is not chosen)")
    bar = StageBars()
    try:
        net = select_network(method, task, candidates=candidates, seed=seed,
                             selection_chips=selection_chips or SELECTION_CHIPS, backend=backend, progress=bar,
                             n_neurons=neurons, epochs=epochs, hardware_aware=hardware_aware, **extra)
    except (BackendError, ImportError, ValueError) as exc:
        raise click.ClickException(f"method {method!r}: {exc}") from None
    finally:
        bar.close()
    save_network(net, out)
    metrics = net.meta["metrics"]
    extra_info = "".join(f", {k} {metrics[k]:.3f}" for k in ("teacher_test_accuracy", "latent_nmse_test") if k in metrics)
    aware = "" if hardware_aware is None else f", hardware-aware at mismatch {hardware_aware}"
    chosen = net.meta.get("selection")
    picked = "" if chosen is None else f", candidate {chosen['chosen']} of {chosen['candidates']} on sampled chips"
    click.echo(f"{method} on {task.name}: test accuracy {metrics['test_accuracy']:.3f}{extra_info} "
               f"({net.n_neurons} neurons{aware}{picked}) -> {out}")
