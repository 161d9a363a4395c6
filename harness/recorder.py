"""The run directory as a subscriber of the measurement stream, and the run's summary.

`RunRecorder` writes each chip's record and each verdict as they are published, and at
the end of the session outcomes.json and summary.json. `replay` publishes what a run
directory holds, so that `harness report` (or a run whose pytest never started) builds
its summary through the same subscriber.
"""
from __future__ import annotations

from typing import Any

from harness.boards.verdicts import board_summary, unit_verdict
from harness.outcomes import INFO, run_outcome
from harness.results import RunDir
from harness.stream import (ChipMeasured, ConditionMeasured, Event, MeasurementStream, SessionFinished,
                            TestFinished)
from sim.atomic import write_json

Place = tuple[str, str, str]  # suite, network, condition


class RunRecorder:
    """Records, verdicts, outcomes.json and summary.json of one run directory."""

    def __init__(self, run: RunDir, write_measured: bool = True):
        self.run, self.write_measured = run, write_measured
        self.verdicts: dict[Place, ConditionMeasured] = {}
        self.tests: dict[str, TestFinished] = {}
        self.summary: dict[str, Any] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, ChipMeasured) and self.write_measured:
            self.run.record(event.suite, event.network, event.chip_seed, event.condition, event.fingerprint,
                            list(event.measurements), event.context)
        elif isinstance(event, ConditionMeasured):
            self.verdicts[(event.suite, event.network, event.condition)] = event
            if self.write_measured:
                self.run.write_verdict(event.verdict())
        elif isinstance(event, TestFinished):
            self.tests[event.nodeid] = event
        elif isinstance(event, SessionFinished):
            outcomes = {"pytest_exit": event.pytest_exit, "interrupted": event.interrupted,
                        "collection_errors": list(event.collection_errors), "errors": list(event.errors),
                        "tests": [vars(t) for t in self.tests.values()]}
            if self.write_measured:
                self.run.write_outcomes(outcomes)
            self.summary = summarise(outcomes, self.verdicts, self.run.manifest())
            write_json(self.run.summary_path, self.summary)


def summarise(outcomes: dict[str, Any], verdicts: dict[Place, ConditionMeasured],
              manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's essentials, the run's outcome, and every configured test with its
    outcome and, where it measured, its verdict."""
    tests = []
    for test in outcomes["tests"]:
        measured = verdicts.get((test["suite"], test["network"], test["condition"]))
        if test.get("unit") is not None:  # a board's or the model-consistency test (harness.boards)
            tests.append({**test, "verdict": unit_verdict(test, measured.facts if measured else None)})
            continue
        verdict = measured.verdict() if measured is not None and test["outcome"] in ("pass", "fail") else {}
        tests.append({**verdict, **test, "verdict": verdict.get("outcome")})
    states = [t["outcome"] for t in tests]
    return {
        "outcome": run_outcome(outcomes, [t["verdict"] for t in tests]),
        "run": {key: manifest.get(key) for key in ("created", "resumed", "spec_version", "seed", "chip_seeds",
                                                   "target", "networks")},
        "totals": {"tests": len(tests), **{o: states.count(o) for o in ("pass", "fail", "error", "skip")},
                   "characterised": sum(t["verdict"] == INFO for t in tests)},
        "errors": [*outcomes["errors"],
                   *(f"collecting {e['nodeid']}: {e['message']}" for e in outcomes["collection_errors"])],
        "pytest_exit": outcomes["pytest_exit"],
        "interrupted": outcomes["interrupted"],
        "tests": tests,
        "boards": board_summary([v.verdict() for v in verdicts.values()], tests),
    }


def replay(run: RunDir) -> dict[str, Any]:
    """Publish the run directory's verdicts and test outcomes again (nothing is rewritten but
    summary.json) and return the summary they give. A run without outcomes is an ERROR."""
    stream, recorder = MeasurementStream(), RunRecorder(run, write_measured=False)
    stream.subscribe(recorder)
    for verdict in run.verdicts():
        stream.publish(ConditionMeasured.from_verdict(verdict))
    outcomes = run.read_json(run.outcomes_path) or {"pytest_exit": None,
                                                    "errors": ["no test outcomes recorded: the suites did not run"]}
    for test in outcomes.get("tests", []):
        stream.publish(TestFinished(**test))
    stream.publish(SessionFinished(outcomes.get("pytest_exit"), bool(outcomes.get("interrupted")),
                                   tuple(outcomes.get("collection_errors", [])), tuple(outcomes.get("errors", []))))
    assert recorder.summary is not None
    return recorder.summary
