"""What `harness run` checks before anything runs and before its run directory exists.

`harness.run_config` checks what the configuration's text can tell; `preflight` checks what
needs a little more, in seconds: each task is built at the run's seed and sizes (a user's
data set is read), and every suite's class-balanced samples, calibration trials and
`budget_curve` are drawn from its splits; the backends exist; every board under test is a
chip of the run's spec; a board target answers and an emulator or simulator target opens;
a Dask scheduler accepts a connection. Each failure is one `PreflightError` line naming
the field or the target, and then nothing has run.

A target or cluster that fails later, at run time, raises `TargetUnreachable` (or
`harness.cluster.ClusterError`): the session stops at that first failure
(harness.outcomes) instead of erroring in every test.
"""
from __future__ import annotations

from typing import Any

from drivers.chip import ChipError
from harness.cluster import ClusterError, check_reachable
from harness.run_config import RunConfig, RunConfigError
from sim.backend import BackendError, get_backend
from sim.tasks.base import TaskError, Task


class PreflightError(RunConfigError):
    """The run cannot start: a field does not fit its task, or a target or cluster is unusable."""


class TargetUnreachable(ChipError):
    """The run's target (a board, or the chip population it names) cannot be opened."""


def preflight(config: RunConfig, origin: str = "configuration") -> None:
    """PreflightError (one line) unless the run can start; builds tasks and opens the target once."""
    def fail(name: str, problem: str) -> PreflightError:
        return PreflightError(f"{origin}: field '{name}' {problem}")

    for name in {config.backend, *_target_backend(config)}:
        try:
            get_backend(name)
        except BackendError as exc:
            raise fail("backend", f"cannot be used: {exc}") from None
    for task_id in config.tasks:
        task = _task(config, task_id, fail)
        for suite in config.suites:
            _check_budgets(task, task_id, suite, config.suite_params(suite), fail)
    if config.cluster:
        try:
            check_reachable(config.cluster)
        except ClusterError as exc:
            raise PreflightError(f"{exc}; nothing ran") from None
    from harness.boards.bench import wrong_spec  # noqa: PLC0415 - the driver stack loads on demand
    problem = wrong_spec(config.boards, config.specs[0], config.link_timeout or None)
    if problem:
        raise PreflightError(problem)
    try:
        open_target(config)
    except TargetUnreachable as exc:
        raise PreflightError(f"{exc}; nothing ran") from None


def _task(config: RunConfig, task_id: str, fail: Any) -> Task:
    from harness.networks import load_run_task  # noqa: PLC0415 - the task stack loads on demand
    from sim.tasks.userdata import UserDataError  # noqa: PLC0415
    try:
        return load_run_task(config, task_id)
    except (TaskError, UserDataError) as exc:
        raise fail("tasks", f"has {task_id!r}, which cannot be built at the run's seed and sizes: {exc}") from None


def _check_budgets(task: Task, task_id: str, suite: str, params: dict[str, Any], fail: Any) -> None:
    """The suite's test samples and every calibration budget, drawn class-balanced from their splits."""
    split = params["calibration_split"]
    draws = [("samples", "test", int(params["samples"])),
             ("calibration_trials", split, int(params["calibration_trials"])),
             *(("budget_curve", split, int(k)) for k in params["budget_curve"] if k)]
    for key, split_name, count in draws:
        data = getattr(task, split_name)
        try:
            data.balanced(count, task.n_classes)
        except TaskError as exc:
            raise fail(f"suite.{suite}.{key}", f"asks for {count} class-balanced {split_name} samples of task "
                                               f"{task_id!r} ({len(data)} in its {split_name} split, "
                                               f"{task.n_classes} classes): {exc}") from None


def _target_backend(config: RunConfig) -> list[str]:
    from drivers.targets import parse_target  # noqa: PLC0415
    backend = parse_target(config.target).backend
    return [backend] if backend else []


def open_target(config: RunConfig) -> None:
    """Open the run's target once and close it: TargetUnreachable naming it when that fails."""
    from drivers.targets import open_chip, open_population, parse_target  # noqa: PLC0415
    target, spec = config.target, config.specs[0]
    try:
        if parse_target(target).fixed_chip:
            chip = open_chip(target, spec=spec, link_timeout=config.link_timeout or None)
            try:
                chip.identity()
            finally:
                chip.close()
        else:
            open_population(target, spec=spec, mismatch=config.mismatch, backend=config.backend)
    except (ChipError, ValueError, OSError) as exc:
        why = str(exc) if isinstance(exc, ChipError) else f"{type(exc).__name__}: {exc}"
        raise TargetUnreachable(f"target {target} cannot be used: {why}") from None
