"""Training methods by name, each `train(task, *, n_neurons, epochs, seed, backend, progress)`.

Every method returns a `SpikingNetwork` whose `meta` holds task, method, seed,
hyper-parameters, n_neurons and metrics (test accuracy via `sim.lif.simulate`).
`n_neurons` / `epochs` of None mean the method's default for the task. `progress`
receives dicts with "stage" (str), "step" and "total" (ints) and float metrics such as
"loss", "val_acc". `train(..., hardware_aware=LEVEL)` trains ADS or BPTT-LIF on chips
sampled from the chip-faithful mismatch model (`sim.perturb.ChipMismatch`). Baselines are
imported lazily so that a missing one does not break this module.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable

from sim.backend import Backend, get_backend
from sim.chip.mismatch import MismatchLevel
from sim.network import SpikingNetwork
from sim.perturb import ChipMismatch, nominal_accuracy
from sim.tasks.base import Task

if TYPE_CHECKING:
    from sim.teacher import TeacherParams

Progress = Callable[[dict], None]


def train_ads_method(task: Task, *, n_neurons: int | None, epochs: int | None, seed: int, backend: Backend,
                     progress: Progress | None = None, teacher_epochs: int | None = None,
                     hardware_aware: MismatchLevel | None = None, fast_fan_in: int | None = None,
                     slow_fan_in: int | None = None, slow_gradual: bool | None = None,
                     select_chips: int | None = None, slow_decay: float | None = None,
                     teacher: TeacherParams | None = None) -> SpikingNetwork:
    """Rate teacher by BPTT, then network ADS; the teacher's test accuracy is kept in metrics.
    `teacher`: one already trained on `task` (then only the ADS stage runs, with `seed`).
    `fast_fan_in` / `slow_fan_in`: recurrent weights kept per neuron; `slow_gradual`: prune W_slow
    step by step up to the cut; `select_chips`: keep the level that does best on that many sampled
    chips; `slow_decay`: W_slow weight decay per minibatch (`sim.ads.ADSConfig`; None: the task's default)."""
    from sim.ads import ads_config, train_ads  # noqa: PLC0415 - keeps `import sim.methods` light
    from sim.teacher import evaluate_teacher, teacher_config, train_teacher  # noqa: PLC0415

    started = time.perf_counter()
    t_cfg = teacher_config(task.name, epochs=teacher_epochs)
    if teacher is None:
        teacher = train_teacher(task, t_cfg, seed, backend, progress)
    teacher_loss, teacher_acc = evaluate_teacher(teacher, task, task.test, backend)
    a_cfg = ads_config(task.name, n_neurons=n_neurons, epochs=epochs, hardware_aware=hardware_aware,
                       fast_fan_in=fast_fan_in, slow_fan_in=slow_fan_in, slow_gradual=slow_gradual,
                       select_chips=select_chips, slow_decay=slow_decay)
    net, metrics = train_ads(teacher, task, a_cfg, seed, backend, progress)
    metrics.update(teacher_test_accuracy=teacher_acc, teacher_test_loss=teacher_loss,
                   teacher_epochs_run=teacher.meta["epochs_run"])
    net.meta.update(hyper={"teacher": asdict(t_cfg), "ads": asdict(a_cfg)}, metrics=metrics)
    net.meta["metrics"]["seconds"] = time.perf_counter() - started
    return net


def _baseline(module: str, function: str) -> Callable[..., SpikingNetwork]:
    def train(task: Task, **kwargs: Any) -> SpikingNetwork:
        return getattr(importlib.import_module(module), function)(task, **kwargs)
    train.__name__ = function
    train.__doc__ = f"`{module}.{function}`, imported when first used."
    return train


METHODS: dict[str, Callable[..., SpikingNetwork]] = {
    "ads": train_ads_method,
    "bptt": _baseline("sim.baselines.bptt_lif", "train_bptt_lif"),
    "force": _baseline("sim.baselines.force", "train_force"),
    "reservoir": _baseline("sim.baselines.reservoir", "train_reservoir"),
}
HARDWARE_AWARE = ("ads", "bptt")  # methods that accept `hardware_aware`


def train(method: str, task: Task, *, n_neurons: int | None = None, epochs: int | None = None, seed: int = 0,
          backend: Backend | str = "auto", progress: Progress | None = None,
          hardware_aware: MismatchLevel | None = None, **extra: Any) -> SpikingNetwork:
    """Train with `method` and complete the network's meta (task, method, seed, test accuracy).

    `hardware_aware`: a chip mismatch level ("spec" or a fraction, `sim.perturb.ChipMismatch`
    of the dynapse1 spec) sampled afresh for every minibatch while training (methods in
    `HARDWARE_AWARE` only); recorded as meta["hardware_aware"]."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if hardware_aware is not None:
        if method not in HARDWARE_AWARE:
            raise ValueError(f"hardware-aware training is implemented for {', '.join(HARDWARE_AWARE)}, not {method!r}")
        ChipMismatch(hardware_aware).cv  # noqa: B018 - rejects a bad level before training
        extra["hardware_aware"] = hardware_aware
    be = get_backend(backend)
    net = METHODS[method](task, n_neurons=n_neurons, epochs=epochs, seed=seed, backend=be, progress=progress, **extra)
    metrics = dict(net.meta.get("metrics", {}))
    metrics["test_accuracy"] = nominal_accuracy(net, task, be)
    net.meta.update(task=task.name, method=method, seed=seed, n_neurons=net.n_neurons, metrics=metrics,
                    task_meta=task.meta or {}, hardware_aware=hardware_aware)
    net.meta.setdefault("hyper", {})
    return net
