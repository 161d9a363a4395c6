"""The console as a subscriber of the measurement stream: one line per finished test.

A suite test's line gives its outcome, place and the measurements of its verdict, e.g.
`PASS  mismatch_yield xor-ads-dynapse1 level=spec: yield 100.0% [94.4–100.0%]; 95% lower
bound 95.4% (>= 80.0%); uncalibrated 20.3% [11.3–32.2%]; calibrated 100.0% [94.4–100.0%];
driver bit errors 0 (<= 0)` (each yield with its exact 95 % interval). `harness run` prints the lines as
the tests finish; under plain pytest the plugin prints them in the terminal summary.
"""
from __future__ import annotations

from typing import Callable

from harness.boards.verdicts import unit_line
from harness.outcomes import INFO
from harness.percent import percent
from harness.results import FRACTION, Measurement
from harness.stream import ConditionMeasured, Event, TestFinished

SHOWN = {"yield": "yield", "yield_lower_bound": "95% lower bound", "yield_uncalibrated": "uncalibrated",
         "yield_calibrated": "calibrated", "driver_bit_errors": "driver bit errors"}


class ConsoleLines:
    """Writes a line per finished test through `write`."""

    def __init__(self, write: Callable[[str], None]):
        self.write = write
        self.verdicts: dict[tuple[str | None, ...], ConditionMeasured] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, ConditionMeasured):
            self.verdicts[(event.suite, event.network, event.condition)] = event
        elif isinstance(event, TestFinished):
            self.write(finished_line(event, self.verdicts.get((event.suite, event.network, event.condition))))


def finished_line(test: TestFinished, verdict: ConditionMeasured | None) -> str:
    """The outcome, place and the verdict's measurements (and why a failure failed), or the
    test's message when it did not measure."""
    label = "----" if test.outcome == "pass" and verdict is not None and verdict.outcome == INFO \
        else test.outcome.upper()
    place = " ".join(p for p in (test.suite, test.network, test.condition) if p) or test.nodeid
    if test.unit is not None:  # a board under test, or the model-consistency test
        return unit_line(test.outcome.upper(), place, test.unit, verdict.facts.get("boards") if verdict else None,
                         test.message)
    if verdict is None or test.outcome not in ("pass", "fail"):
        return f"{label:5} {place}" + (f": {test.message}" if test.message else "")
    by_name = {m.name: m for m in verdict.measurements}
    shown = [f"{SHOWN[m.name]} {_value(m)}{_interval(m, by_name)}{_limits(m)}" for m in verdict.measurements
             if m.name in SHOWN]
    skipped = (verdict.facts.get("driver") or {}).get("skipped")
    if skipped:
        shown.append(f"driver not checked: {skipped}")
    note = " (characterised)" if verdict.outcome == INFO else ""
    why = f"\n{'':6}{test.message}" if test.outcome == "fail" and test.message else ""
    return f"{label:5} {place}: {'; '.join(shown)}{note}{why}"


def _value(m: Measurement, value: float | None = None) -> str:
    value = m.value if value is None else value
    return percent(value) if m.units == FRACTION else f"{value:g}"


def _interval(m: Measurement, by_name: dict[str, Measurement]) -> str:
    """' [low–high]' when the measurement has an interval (a yield's exact 95 % interval)."""
    low, high = by_name.get(f"{m.name}_ci_low"), by_name.get(f"{m.name}_ci_high")
    return f" [{_value(low)}–{_value(high)}]" if low is not None and high is not None else ""


def _limits(m: Measurement) -> str:
    sides = [f">= {_value(m, m.low)}" if m.low is not None else "", f"<= {_value(m, m.high)}" if m.high is not None
             else ""]
    return f" ({', '.join(s for s in sides if s)})" if any(sides) else ""
