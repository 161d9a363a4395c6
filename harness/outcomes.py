"""The outcome of every configured test of a pytest session, published on the measurement stream.

One `TestFinished` per test case: `pass`, `fail` (an assertion: a measurement missed its
limit), `error` (an exception in setup, call or teardown: a chip, target or instrument that
failed), or `skip` (with its reason); then one `SessionFinished` with the collection
errors. The counts therefore equal pytest's, and the run's outcome follows from them: PASS
only when every configured test ran and passed and one of them checked a limit;
CHARACTERISED when every test ran and passed but none checked a limit (each verdict was
measured without one, e.g. `assert_at = []`: measured, not judged; exit 0 like PASS); any
error, collection error or skip — or no test at all — is ERROR; otherwise a failure is FAIL.
A target or cluster that cannot be used stops the session at its first failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import pytest

from harness.stream import MeasurementStream, SessionFinished, TestFinished

PASS, FAIL, ERROR, CHARACTERISED = "PASS", "FAIL", "ERROR", "CHARACTERISED"
EXIT_CODES = {PASS: 0, CHARACTERISED: 0, FAIL: 1, ERROR: 2}
INFO = "info"  # a test's verdict measured without a limit: characterised, not judged
# where a test case sits in a run: user properties set on each collected suite item
PLACE = ("suite", "network", "condition", "unit")


@dataclass(eq=False)  # hashable: pytest keeps plugins in sets
class OutcomeLog:
    """A pytest plugin object that publishes each test's outcome on `stream` (one per session)."""

    stream: MeasurementStream
    running: dict[str, TestFinished] = field(default_factory=dict)
    collection_errors: list[dict[str, str]] = field(default_factory=list)
    interrupted: bool = False
    finished: int = 0
    stopped: str | None = None  # why the session stopped at its first failure (a target or cluster)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append({"nodeid": report.nodeid, "message": _last_line(report.longreprtext)})

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        place = {k: v for k, v in report.user_properties if k in PLACE}
        entry = self.running.setdefault(report.nodeid, TestFinished(report.nodeid, "pass", **place))
        if report.skipped:
            entry = replace(entry, outcome="skip", message=_skip_reason(report))
        elif report.failed and entry.outcome != "error":
            # an assertion in the test body is a failed measurement; anything else is an error
            failed_assertion = report.when == "call" and _crash_type(report) == "AssertionError"
            entry = replace(entry, outcome="fail" if failed_assertion else "error", message=_crash_message(report))
        self.running[report.nodeid] = entry

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.finished += 1
        if nodeid in self.running:
            self.stream.publish(self.running.pop(nodeid))

    @pytest.hookimpl
    def pytest_exception_interact(self, node: pytest.Item | pytest.Collector, call: pytest.CallInfo[Any],
                                  report: Any) -> None:
        """A target or cluster that cannot be used fails every test alike: stop at the first."""
        if self.stopped is None and call.excinfo is not None and call.excinfo.errisinstance(_stopping()):
            self.stopped = f"{call.excinfo.value}"
            node.session.shouldfail = self.stopped

    @pytest.hookimpl
    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        for unfinished in self.running.values():  # interrupted mid-test: what it reported so far
            self.stream.publish(unfinished)
        self.running.clear()
        errors = ()
        if self.stopped is not None:
            left = len(session.items) - self.finished
            errors = (f"the run stopped at its first failure: {self.stopped}; {left} of {len(session.items)} "
                      "configured tests did not run",)
        self.stream.publish(SessionFinished(int(exitstatus), self.interrupted, tuple(self.collection_errors),
                                            errors))


def run_outcome(outcomes: dict[str, Any], verdicts: Sequence[str | None] = ()) -> str:
    """PASS / CHARACTERISED / FAIL / ERROR of a session from its recorded outcomes and the
    verdict of each test (None for a test that published none; see the module docstring)."""
    states = [t["outcome"] for t in outcomes.get("tests", [])]
    if not states or outcomes.get("collection_errors") or outcomes.get("errors") or \
            any(s in ("error", "skip") for s in states):
        return ERROR
    if "fail" in states:
        return FAIL
    return CHARACTERISED if len(verdicts) == len(states) and all(v == INFO for v in verdicts) else PASS


def _stopping() -> tuple[type[BaseException], ...]:
    """The failures that stop a session: its target or its cluster cannot be used."""
    from harness.cluster import ClusterError  # noqa: PLC0415
    from harness.preflight import TargetUnreachable  # noqa: PLC0415 - drivers load on demand
    return TargetUnreachable, ClusterError


def _crash_type(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message.split(":", 1)[0] if crash is not None else "").rsplit(".", 1)[-1]


def _crash_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else _last_line(report.longreprtext)
    first = text.split("\n", 1)[0].removeprefix("AssertionError: ")
    kind, sep, rest = first.partition(": ")
    return f"{kind.rsplit('.', 1)[-1]}{sep}{rest}" if sep and " " not in kind else first  # no module path


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return _last_line(report.longreprtext)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
