"""`harness run`: train or reuse networks, compile them, run the suites, write the report.

The suites run in process through pytest (`pytest.main` on `harness.suites` with the
plugin's options), so `harness run` and `pytest --pyargs harness.suites` share one
implementation and `harness run` gets JUnit XML for free. Interrupting (Ctrl-C) leaves a
run directory of complete files; the same command resumes it without recomputing the
chips already recorded.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from tqdm import tqdm

from harness.compiler.report import neurons_text
from harness.console import ConsoleLines
from harness.context import manifest_for, network_plan
from harness.networks import deploy
from harness.report import render
from harness.outcomes import EXIT_CODES
from harness.progress import StageBars
from harness.recorder import replay
from harness.results import RunDir
from harness.run_config import RunConfig
from harness.stream import MeasurementStream
from harness.suites.catalog import SUITES
from sim.atomic import write_atomic


class RunInterrupted(KeyboardInterrupt):
    """The run was interrupted; its directory resumes with the same command."""


@dataclass
class RunOutcome:
    run: RunDir
    resumed: bool
    summary: dict[str, Any]

    @property
    def verdict(self) -> str:
        """PASS, CHARACTERISED, FAIL or ERROR (harness.outcomes)."""
        return self.summary["outcome"]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def run_pipeline(config: RunConfig, out: str | Path, progress: bool = True,
                 echo: Callable[[str], None] = print) -> RunOutcome:
    """The whole job into run directory `out`; RunInterrupted on Ctrl-C (resumable)."""
    run = RunDir(out)
    resumed = run.start(config.to_toml(), manifest_for(config))
    echo(f"{'resuming' if resumed else 'run'} in {run.root}")
    for key, task, method, spec in network_plan(config):
        bars = StageBars(f"train {key} ", enabled=progress, leave=False)
        try:
            _, info = deploy(config, run, task, method, spec, progress=bars)
        finally:
            bars.close()
        accuracy = info["metrics"].get("test_accuracy")
        fan_in = info["mapping"].get("fan_in", {})
        echo(f"network {key}: {info['network']}, {neurons_text(info['mapping'])} neurons, float test accuracy "
             f"{'n/a' if accuracy is None else f'{accuracy:.3f}'}; CAM fan-in median {fan_in.get('median')} "
             f"of {fan_in.get('limit')}")
    run.outcomes_path.unlink(missing_ok=True)  # outcomes are this session's, never an earlier one's
    summary = run_suites(run, config, progress, echo)
    if summary["interrupted"]:
        raise RunInterrupted(f"interrupted; rerun the same command to resume {run.root}")
    render(run, summary)
    return RunOutcome(run, resumed, summary)


@dataclass
class LiveConsole:
    """A pytest plugin object: a console line per test, from the session's measurement
    stream, in place of pytest's own terminal output."""

    write: Callable[[str], None]

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)

    def pytest_harness_stream(self, stream: MeasurementStream) -> None:
        stream.subscribe(ConsoleLines(self.write))


def run_suites(run: RunDir, config: RunConfig, progress: bool, echo: Callable[[str], None]) -> dict[str, Any]:
    """pytest on the configured suites with the plugin's options, a line per test as it
    finishes; JUnit XML, outcomes.json and summary.json into the run dir (also when pytest
    could not start). Returns the summary."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        args = ["--pyargs", *(SUITES[s].module for s in config.suites),
                f"--harness-config={run.config_path}", f"--harness-results={run.root}",
                f"--junitxml={junit}", "-p", "no:cacheprovider",
                "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        if progress:
            args += ["-s", "--harness-progress"]
        code = pytest.main(args, plugins=[LiveConsole(tqdm.write if progress else echo)])
        if junit.is_file():
            write_atomic(run.junit_path, lambda f: f.write(junit.read_bytes()))
    if not run.outcomes_path.is_file():
        run.write_outcomes({"pytest_exit": int(code), "tests": [],
                            "errors": [f"pytest could not run the suites (exit code {int(code)}); see the output "
                                       "above"]})
        return replay(run)
    return run.read_json(run.summary_path) or replay(run)
