"""The measurement stream: every output subscribes to one publication of what was measured.

A third-party plugin subscribes through the `pytest_harness_stream` hook and sees the same
events, in order, from which the run directory's records, verdicts, outcomes and summary
were written."""
import json

import pytest

from harness.results import FRACTION, Measurement, RunDir
from harness.stream import ConditionMeasured, MeasurementStream, SessionFinished, TestFinished
from tests.test_pipeline import write_config

pytest_plugins = ["pytester"]

SUBSCRIBER = """
import json
from dataclasses import asdict

EVENTS = []


def pytest_harness_stream(stream):
    stream.subscribe(lambda event: EVENTS.append({"kind": type(event).__name__, **asdict(event)}))


def pytest_unconfigure(config):
    with open("events.json", "w") as f:
        json.dump(EVENTS, f, default=str)
"""


def test_a_late_subscriber_is_sent_the_events_already_published():
    stream, first, late = MeasurementStream(), [], []
    stream.subscribe(first.append)
    events = [TestFinished("a", "pass"), SessionFinished(0)]
    stream.publish(events[0])
    stream.subscribe(late.append)
    stream.publish(events[1])
    assert first == late == events


def test_verdicts_round_trip_through_their_json():
    measured = ConditionMeasured("noise", "net", "level=0.1", (Measurement("yield", 0.9, FRACTION, low=0.8),), "pass",
                                 {"samples": 32})
    verdict = measured.verdict()
    assert verdict["measurements"][0]["limits"] == {"low": 0.8, "high": None} and verdict["samples"] == 32
    assert ConditionMeasured.from_verdict(json.loads(json.dumps(verdict))) == measured


def test_a_plugin_subscribed_to_the_stream_sees_what_the_run_directory_recorded(pytester, tmp_path):
    config = write_config(tmp_path, chips=3, chunk=2)
    pytester.makeconftest(SUBSCRIBER)
    run = RunDir(tmp_path / "run")
    result = pytester.runpytest("--pyargs", "harness.suites.test_noise", f"--harness-config={config}",
                                f"--harness-results={run.root}", "-p", "no:cacheprovider")
    events = json.loads((pytester.path / "events.json").read_text())
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "SessionFinished" and kinds.count("SessionFinished") == 1
    assert events[-1]["pytest_exit"] == result.ret
    # every chip record holds exactly what was published for it
    chips = [e for e in events if e["kind"] == "ChipMeasured"]
    assert chips and all(e["suite"] in ("noise", "reference") for e in chips)
    for e in chips:
        record = run.read_json(run.record_path(e["suite"], e["network"], e["chip_seed"]))
        entry = record["conditions"][e["condition"]]
        assert entry["fingerprint"] == e["fingerprint"]
        assert [m["value"] for m in entry["measurements"]] == [m["value"] for m in e["measurements"]]
    # each test's verdict is published in its setup, before its outcome; the verdict files are those events
    verdicts = [(i, e) for i, e in enumerate(events) if e["kind"] == "ConditionMeasured"]
    tests = [(i, e) for i, e in enumerate(events) if e["kind"] == "TestFinished"]
    assert len(verdicts) == len(tests) >= 1
    for (published, verdict), (finished, test) in zip(verdicts, tests):
        assert published < finished
        assert (test["suite"], test["network"], test["condition"]) == \
            (verdict["suite"], verdict["network"], verdict["condition"])
        stored = run.read_json(run.verdict_path(verdict["suite"], verdict["network"], verdict["condition"]))
        assert stored["outcome"] == verdict["outcome"] and stored["accuracies"] == verdict["facts"]["accuracies"]
    outcomes = run.read_json(run.outcomes_path)
    tests = [test for _, test in tests]
    assert [t["outcome"] for t in outcomes["tests"]] == [t["outcome"] for t in tests]
    summary = run.read_json(run.summary_path)
    assert summary["totals"]["tests"] == len(tests)
    # the console lines, one per test, close pytest's output
    for test in tests:
        result.stdout.fnmatch_lines([f"*{test['suite']} {test['network']} {test['condition']}: yield *"])


@pytest.mark.parametrize("units, value, shown", [(FRACTION, 0.5, "50.0%"), ("bits", 3.0, "3")])
def test_console_lines_show_values_in_their_units(units, value, shown):
    from harness.console import ConsoleLines  # noqa: PLC0415
    lines = []
    console = ConsoleLines(lines.append)
    console(ConditionMeasured("s", "n", "c=1", (Measurement("yield", value, units, low=0.8 if units == FRACTION
                                                            else None),), "fail"))
    console(TestFinished("id", "fail", "yield 0.5 < 0.8", "s", "n", "c=1"))
    assert lines[0].startswith(f"FAIL  s n c=1: yield {shown}") and lines[0].endswith("yield 0.5 < 0.8")
