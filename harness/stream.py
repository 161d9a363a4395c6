"""The measurement stream: what a run measures, published once to every output that subscribes.

Events, in the order a session produces them:

* `ChipMeasured`: one chip's typed measurements at one condition (from the suite engine);
* `ConditionMeasured`: one test case's verdict, its measurements with units and limits
  and the facts behind them (from the suite engine, in the test's setup);
* `TestFinished`: one configured test's outcome, pass / fail / error / skip, and its
  message (from the pytest plugin, `harness.outcomes`);
* `SessionFinished`: how the pytest session ended.

Subscribers are callables taking an event. The plugin subscribes the run directory
(`harness.recorder.RunRecorder`: chip records, verdict files, outcomes.json, summary.json),
the JUnit properties and the console; other plugins subscribe through the
`pytest_harness_stream` hook (`harness.hooks`), as `harness run` does for its live lines.
A subscriber that joins late is first sent the events already published, so every
subscriber sees the whole session.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

from harness.results import Measurement


@dataclass(frozen=True)
class ChipMeasured:
    """One chip at one condition of a suite (or of the reference, suite "reference")."""

    suite: str
    network: str
    condition: str
    chip_seed: int
    fingerprint: str                       # what the measurements depend on (reuse on resume)
    measurements: tuple[Measurement, ...]
    context: dict[str, Any] = field(default_factory=dict)  # the condition's settings, for the record


@dataclass(frozen=True)
class ConditionMeasured:
    """A test case's verdict: typed measurements, the outcome they give, and the facts behind
    them (yield per deployment, reference, populations, driver check, ...)."""

    suite: str
    network: str
    condition: str
    measurements: tuple[Measurement, ...]
    outcome: str                           # pass | fail | info (characterised, no limit)
    facts: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> dict[str, Any]:
        """The verdict as one JSON object (verdicts/<suite>/<network>/<condition>.json)."""
        return {"suite": self.suite, "network": self.network, "condition": self.condition, **self.facts,
                "measurements": [m.to_dict() for m in self.measurements], "outcome": self.outcome}

    @classmethod
    def from_verdict(cls, verdict: dict[str, Any]) -> "ConditionMeasured":
        place = ("suite", "network", "condition", "measurements", "outcome")
        return cls(verdict["suite"], verdict["network"], verdict["condition"],
                   tuple(Measurement.from_dict(m) for m in verdict.get("measurements", [])), verdict["outcome"],
                   {k: v for k, v in verdict.items() if k not in place})


@dataclass(frozen=True)
class TestFinished:
    """A configured test's outcome: pass, fail (a measurement missed its limit), error (an
    exception: a chip, target or instrument failed) or skip, with its message; suite tests
    carry their place in the run."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    message: str = ""
    suite: str | None = None
    network: str | None = None
    condition: str | None = None
    unit: str | None = None   # a board's chip id, or "model" (harness.boards); None: the virtual chips


@dataclass(frozen=True)
class SessionFinished:
    """The end of a session: pytest's exit status, whether it was interrupted, collection
    errors, and errors that kept the suites from running at all."""

    pytest_exit: int | None
    interrupted: bool = False
    collection_errors: tuple[dict[str, str], ...] = ()
    errors: tuple[str, ...] = ()


Event = Union[ChipMeasured, ConditionMeasured, TestFinished, SessionFinished]
Subscriber = Callable[[Event], None]


class MeasurementStream:
    """Publish events to subscribers, in order of subscription."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._history: list[Event] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        """Send `subscriber` every event published so far, then every later one."""
        for event in self._history:
            subscriber(event)
        self._subscribers.append(subscriber)

    def publish(self, event: Event) -> None:
        self._history.append(event)
        for subscriber in self._subscribers:
            subscriber(event)
