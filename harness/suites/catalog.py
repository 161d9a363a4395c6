"""One declaration per robustness suite, read by the configuration, pipeline, report and plots.

A suite sweeps one key of its parameters (`levels`, `bits`, ...); each value is a
condition labelled `<condition>=<value>`. `check_value` says what a value may be, so a
run configuration with a bad condition is rejected before anything runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from sim.chip.spec import DEFAULT_SPEC


def _number(low: float, high: float | None = None) -> Callable[[Any], str | None]:
    """A check that a value is a finite number in [low, high]."""
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "must be a finite number"
        if value < low or (high is not None and value > high):
            return f"must be in [{low:g}, {high:g}]" if high is not None else f"must be >= {low:g}"
        return None
    return check


def _integer(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be an integer in [{low}, {high}]"
        return None
    return check


def _mismatch_level(value: Any) -> str | None:
    """'spec', a cv like 0.1 or a percentage like "10%" (as `--mismatch` takes it)."""
    from sim.chip.mismatch import MismatchError, resolve_cv  # noqa: PLC0415 - keeps the catalog light
    from sim.chip.spec import load_spec  # noqa: PLC0415
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return "must be 'spec' or a number"
    try:
        resolve_cv(value, load_spec(DEFAULT_SPEC))
    except MismatchError as exc:
        return f"is not a mismatch level ({exc})"
    return None


@dataclass(frozen=True)
class Suite:
    """What every part of the harness needs to know about one suite."""

    name: str               # key in the configuration, records and verdicts
    key: str                # the swept parameter
    condition: str          # condition label prefix: "<condition>=<value>"
    title: str              # human title (report, plots)
    axis: str               # x-axis label of the swept value
    check_value: Callable[[Any], str | None]
    discrete: bool = False  # integer-valued axis (ticks at the values)
    needs_instruments: bool = False
    perturbs_population: bool = False  # the sweep changes the chips themselves (reference: nominal chips)

    @property
    def module(self) -> str:
        return f"harness.suites.test_{self.name}"


SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("mismatch_yield", "levels", "level", "Mismatch", "mismatch level (cv)", _mismatch_level,
          perturbs_population=True),
    Suite("quantisation", "bits", "bits", "Weight quantisation", "weight bits", _integer(2, 16), discrete=True),
    Suite("noise", "levels", "level", "Temporal noise", "noise amplitude / threshold", _number(0.0, 10.0)),
    Suite("neuron_failure", "fractions", "fraction", "Neuron failure", "fraction of neurons disabled",
          _number(0.0, 1.0)),
    Suite("supply_sweep", "voltages", "supply", "Supply voltage", "supply voltage (V)", _number(0.1, 10.0),
          needs_instruments=True),
)}


def check_sweep(suite: Suite, params: dict[str, Any]) -> tuple[str, str] | None:
    """The first problem with a suite's sweep or `assert_at`, as (parameter, problem), or None."""
    values = params[suite.key]
    if not isinstance(values, list) or not values:
        return suite.key, "must be a non-empty list"
    for value in values:
        problem = suite.check_value(value)
        if problem:
            return suite.key, f"has {value!r}, which {problem}"
    if len({str(v) for v in values}) != len(values):
        return suite.key, "lists a value twice"
    swept = {str(v) for v in values}
    outside = [v for v in params.get("assert_at", []) if str(v) not in swept]
    if outside:
        return "assert_at", f"has {outside[0]!r}, which is not one of {suite.key} {values!r}"
    return None
