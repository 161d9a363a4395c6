"""Verdicts a lab can act on: PASS only when every configured test ran and met its limit.

The suite engine's FAIL and ERROR branches, the run outcome and exit codes, the counts
against pytest's, configuration errors before anything runs, and class-balanced samples."""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.outcomes import CHARACTERISED, ERROR, FAIL, PASS, run_outcome
from harness.preflight import PreflightError, preflight
from harness.results import RunDir
from harness.run_config import RunConfigError, config_from_dict, load_config
from sim.tasks.base import Dataset, Task
from tests.test_pipeline import harness, write_config

pytest_plugins = ["pytester"]


def run_dir_summary(folder: Path) -> dict:
    return json.loads((folder / "run" / "summary.json").read_text())


def with_lines(config: Path, *lines: str) -> Path:
    """The configuration with top-level `lines` put before its first table."""
    text = config.read_text()
    config.write_text("\n".join(lines) + "\n" + text)
    return config


# ---- the run's outcome from its tests ---------------------------------------------------
@pytest.mark.parametrize("states, expected", [
    (["pass", "pass"], PASS), (["pass", "fail"], FAIL), (["fail", "error"], ERROR), (["pass", "skip"], ERROR),
    ([], ERROR)])
def test_run_outcome_is_pass_only_when_every_test_ran_and_passed(states, expected):
    assert run_outcome({"tests": [{"outcome": s} for s in states]}) == expected


@pytest.mark.parametrize("states, verdicts, expected", [
    (["pass", "pass"], ["info", "info"], CHARACTERISED),   # no test checked a limit
    (["pass", "pass"], ["info", "pass"], PASS),
    (["pass", "pass"], ["info", None], PASS),               # a plain test asserted something
    (["pass", "fail"], ["info", "fail"], FAIL),
    (["pass", "skip"], ["info", None], ERROR)])
def test_a_run_in_which_no_test_checked_a_limit_is_characterised_never_pass(states, verdicts, expected):
    assert run_outcome({"tests": [{"outcome": s} for s in states]}, verdicts) == expected


def test_collection_errors_and_run_errors_are_never_pass():
    assert run_outcome({"tests": [{"outcome": "pass"}], "collection_errors": [{"nodeid": "x", "message": "m"}]}) \
        == ERROR
    assert run_outcome({"tests": [{"outcome": "pass"}], "errors": ["pytest could not run"]}) == ERROR


# ---- end to end: FAIL, ERROR and their exit codes ---------------------------------------
def test_a_missed_limit_is_fail_with_exit_1_and_each_failure_printed_once(tmp_path):
    config = write_config(tmp_path)
    # 4 chips cannot show 80 % yield with 95 % confidence: every asserted test misses its limit
    text = config.read_text().replace('yield_rule = "point"', 'yield_rule = "lower_bound"')
    config.write_text(text.replace("levels = [0.0, \"spec\"]", "levels = [0.0, \"spec\"]\nassert_at = [\"spec\"]"))
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = run_dir_summary(tmp_path)
    assert summary["outcome"] == FAIL and summary["totals"]["fail"] >= 1 and summary["totals"]["error"] == 0
    failing = [t for t in summary["tests"] if t["outcome"] == "fail"]
    for test in failing:
        line = f"FAIL  {test['suite']} {test['network']} {test['condition']}: yield"
        assert result.stdout.count(line) == 1, result.stdout
        assert test["reference"]["condition"].startswith("mismatch=")
    report = (tmp_path / "run" / "report.md").read_text()
    assert report.startswith("# Robustness report: FAIL\n")
    # the harness's counts equal pytest's (JUnit XML)
    suite = ET.parse(tmp_path / "run" / "junit.xml").getroot().find("testsuite")
    totals = summary["totals"]
    assert (totals["tests"], totals["fail"], totals["error"], totals["skip"]) == \
        (int(suite.get("tests")), int(suite.get("failures")), int(suite.get("errors")), int(suite.get("skipped")))
    counts = re.search(r"(\d+) tests: (\d+) passed .* (\d+) failed, (\d+) errors, (\d+) skipped -> FAIL",
                       result.stdout)
    assert counts and int(counts.group(1)) == totals["tests"] and int(counts.group(3)) == totals["fail"]


def test_an_unreachable_target_is_refused_before_anything_runs(tmp_path):
    config = write_config(tmp_path)
    result = harness("run", str(config), "--target", "socket://127.0.0.1:1", "--out", "run", "--no-progress",
                     cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1  # no network deployed, nothing simulated
    assert result.stderr.startswith("Error: target socket://127.0.0.1:1 cannot be used: ") and \
        result.stderr.rstrip().endswith("; nothing ran")
    assert not (tmp_path / "run").exists()


def test_an_unreachable_cluster_is_refused_within_seconds(tmp_path):
    config = write_config(tmp_path)
    result = harness("run", str(config), "--cluster", "tcp://127.0.0.1:1", "--out", "run", "--no-progress",
                     cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == "Error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 3 s: Connection " \
                            "refused; nothing ran\n"
    assert not (tmp_path / "run").exists()


def test_a_target_lost_at_run_time_stops_the_run_with_one_error_naming_it(tmp_path):
    """Under plain pytest (no preflight) the target is first opened by the first test: it
    errors, the session stops there, and the run's error names the target and what did not run."""
    config = write_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "harness.suites",
                             f"--harness-config={config}", "--harness-target=socket://127.0.0.1:1",
                             f"--harness-results={tmp_path / 'run'}"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    summary = run_dir_summary(tmp_path)
    assert summary["outcome"] == ERROR and summary["totals"]["tests"] == summary["totals"]["error"] == 1
    assert summary["tests"][0]["message"].startswith("TargetUnreachable: target socket://127.0.0.1:1 cannot be used")
    [error] = summary["errors"]
    assert error.startswith("the run stopped at its first failure: target socket://127.0.0.1:1 cannot be used")
    left, configured = map(int, re.search(r"; (\d+) of (\d+) configured tests did not run$", error).groups())
    assert left == configured - 1 > 0  # the session stopped after its first test


def test_no_limit_anywhere_is_characterised_and_a_simulator_target_has_no_driver_path(tmp_path):
    config = write_config(tmp_path)
    text = re.sub(r"assert_at = \[[^]]*\]\n", "", config.read_text())
    for table in ("mismatch_yield", "quantisation", "noise", "neuron_failure", "supply_sweep"):
        text = text.replace(f"[suite.{table}]\n", f"[suite.{table}]\nassert_at = []\n")
    config.write_text('target = "sim://dynapse1"\n' + text)
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = run_dir_summary(tmp_path)
    assert summary["outcome"] == CHARACTERISED and summary["totals"]["characterised"] == summary["totals"]["tests"]
    assert "-> CHARACTERISED\nCHARACTERISED: no test checked a limit" in result.stdout
    assert "PASS" not in result.stdout and "driver bit errors" not in result.stdout
    assert result.stdout.count("driver not checked: no driver path (sim://dynapse1 is the batched simulator") == \
        summary["totals"]["tests"]
    for test in summary["tests"]:
        assert test["driver"]["chips"] == [] and test["driver"]["skipped"].startswith("no driver path")
        assert "driver_bit_errors" not in {m["name"] for m in test["measurements"]}
    assert (tmp_path / "run" / "report.md").read_text().startswith("# Robustness report: CHARACTERISED\n")


def test_unknown_tasks_leave_nothing_behind_and_a_broken_run_directory_reports_error(tmp_path):
    config = with_lines(write_config(tmp_path), 'tasks = ["nope"]')
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2 and "field 'tasks' has unknown task 'nope'" in result.stderr
    assert not (tmp_path / "run").exists()
    broken = RunDir(tmp_path / "broken")
    broken.start("x = 1\n", {})  # a run whose suites never ran
    result = CliRunner().invoke(main, ["report", str(broken.root)])
    assert result.exit_code == 2 and "ERROR no test outcomes recorded" in result.output, result.output


def test_configured_instruments_that_cannot_open_are_error_not_skip(tmp_path):
    config = with_lines(write_config(tmp_path), 'instruments = "nonsense"', 'suites = ["supply_sweep"]')
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    summary = run_dir_summary(tmp_path)
    assert summary["totals"]["error"] == summary["totals"]["tests"] > 0 and summary["totals"]["skip"] == 0
    assert summary["tests"][0]["message"].startswith("InstrumentError: ")


def test_a_bad_condition_is_rejected_before_anything_runs(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace('levels = [0.0, "spec"]', 'levels = [0.0, "banana"]'))
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2
    assert "field 'suite.mismatch_yield.levels' has 'banana'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("table, message", [
    ({"suite": {"quantisation": {"bits": [2.5]}}}, "field 'suite.quantisation.bits' has 2.5"),
    ({"suite": {"noise": {"levels": [0.01], "assert_at": [0.02]}}}, "field 'suite.noise.assert_at' has 0.02"),
    ({"suite": {"neuron_failure": {"fractions": [1.5]}}}, "must be in [0, 1]"),
    ({"suite": {"common": {"samples": 0}}}, "field 'suite.mismatch_yield.samples' must be >= 1"),
    ({"specs": ["loihi"]}, "field 'specs' is invalid: unknown chip spec 'loihi'"),
    ({"instruments": "none", "suites": ["supply_sweep"]}, "needs instruments"),
    ({"tasks": ["nope"]}, "field 'tasks' has unknown task 'nope' (known: xor, keyword, or a path to a .npz"),
    ({"seed": 2**64 - 2, "chips": 4}, "field 'seed' must leave room for the chip seeds seed .. seed + chips - 1 in "
                                      "0..2**64-1, got 18446744073709551614 with 4 chips (at most "
                                      "18446744073709551612)"),
    ({"target": "sim://loihi"}, "field 'target' is invalid: unknown chip spec 'loihi'"),
    ({"target": "emulator://dense1k?seed=3"}, "field 'target' 'emulator://dense1k?seed=3' is a dense1k chip, but the "
                                              "run deploys to dynapse1"),
    ({"target": "sim://dynapse1?mismatch=banana"}, "field 'target' is invalid: mismatch level 'banana'"),
    ({"target": "sim://dynapse1?backend=tpu"}, "has backend 'tpu'; choose one of auto, numpy, cupy"),
    ({"target": f"emulator://dynapse1?seed={2**64}"}, "chip seed 18446744073709551616 must be an integer in "
                                                     "0..2**64-1"),
])
def test_configuration_errors_name_the_field_and_the_limit(table, message):
    with pytest.raises(RunConfigError, match=re.escape(message)):
        config_from_dict(table, "run.toml")


TINY_SIZES = {"n_train": 16, "n_val": 8, "n_test": 4, "n_steps": 500}


@pytest.mark.parametrize("common, message", [
    ({"calibration_trials": 3}, "field 'suite.mismatch_yield.calibration_trials' asks for 3 class-balanced train "
                                "samples of task 'xor' (16 in its train split, 2 classes): 3 samples cannot be split "
                                "equally over 2 classes"),
    ({"calibration_trials": 40}, "field 'suite.mismatch_yield.calibration_trials' asks for 40 class-balanced train "
                                 "samples"),
    ({"calibration_split": "val", "calibration_trials": 10}, "field 'suite.mismatch_yield.calibration_trials' asks "
                                                             "for 10 class-balanced val samples of task 'xor' (8 in "
                                                             "its val split"),
    ({"budget_curve": [0, 2, 64]}, "field 'suite.mismatch_yield.budget_curve' asks for 64 class-balanced train "
                                   "samples"),
    ({"samples": 6}, "field 'suite.mismatch_yield.samples' asks for 6 class-balanced test samples"),
])
def test_budgets_that_the_task_cannot_give_are_refused_before_the_run(common, message):
    config = config_from_dict({"sizes": TINY_SIZES, "suite": {"common": {"samples": 2, **common}}}, "run.toml")
    with pytest.raises(PreflightError, match=re.escape(f"run.toml: {message}")):
        preflight(config, "run.toml")


def test_a_valid_configuration_passes_the_preflight():
    preflight(config_from_dict({"sizes": TINY_SIZES, "suite": {"common": {"samples": 2, "calibration_trials": 4,
                                                                         "budget_curve": [0, 2, 4]}}}))


def test_without_instruments_the_default_suites_leave_out_the_supply_sweep():
    assert "supply_sweep" not in config_from_dict({"instruments": "none"}).suites
    assert "supply_sweep" not in load_config().with_options(instruments="none").suites
    assert "supply_sweep" in load_config().suites


# ---- class-balanced samples -------------------------------------------------------------
def toy_task(labels: list[int]) -> Task:
    n = len(labels)
    targets = np.where(np.array(labels) == 1, 1.0, -1.0)[:, None, None] * np.ones((n, 4, 1), np.float32)
    data = Dataset(np.zeros((n, 4, 1), np.float32), targets.astype(np.float32), np.ones((n, 4), bool),
                   np.array(labels, np.int64))
    return Task("toy", data, data, data)


def test_balanced_samples_make_a_constant_answer_score_chance():
    task = toy_task([0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1])
    data = task.test.balanced(8, task.n_classes)
    assert np.bincount(data.labels).tolist() == [4, 4]
    constant = np.full((len(data), 4, 1), 1.0)
    assert task.accuracy(constant, data) == task.chance == 0.5
    first = task.test.subset(slice(0, 8))  # the old selection: the first 8 samples, 6:2
    assert task.accuracy(constant, first) == 0.25  # ... where the other constant answer scores 75 %


def test_balanced_samples_refuse_what_cannot_be_balanced():
    task = toy_task([0, 0, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="multiple of 2"):
        task.test.balanced(5, 2)
    with pytest.raises(ValueError, match="need 3 of class 1, but the split has 2"):
        task.test.balanced(6, 2)


def test_quick_runs_judge_balanced_samples_of_a_whole_quick_test_split():
    quick = load_config().quick()
    params = quick.suite_params("mismatch_yield")
    assert params["samples"] == quick.sizes["n_test"] and params["samples"] % 2 == 0
    assert load_config().suite_params("mismatch_yield")["samples"] >= 32


# ---- the engine's assertions ------------------------------------------------------------
def verdict(yield_value: float, asserted: bool = True, bit_errors: int = 0) -> dict:
    low = 0.8 if asserted else None
    outcome = "info" if not asserted else "pass" if yield_value >= 0.8 else "fail"
    return {"asserted": asserted, "accuracy_spec": 0.75, "chip_seeds": list(range(10)),
            "yield": {"value": yield_value, "limits": {"low": low, "high": None}, "outcome": outcome},
            "accuracy": {"median": 0.7}, "reference": {"condition": "mismatch=spec", "yield": 0.5},
            "driver": {"target": "emulator", "bit_errors": bit_errors,
                       "chips": [{"chip_seed": 4, "chip_id": "emulated:4", "bit_errors": bit_errors,
                                  "differences": ["spikes: 3 of 800 entries differ, first at trial 0, step 5, "
                                                  "neuron 7: simulator True, driver False"] if bit_errors else []}]}}


def test_the_engine_fails_a_missed_yield_and_names_the_reference():
    from harness.suites.engine import check
    check(verdict(0.9))
    check(verdict(0.1, asserted=False))  # characterised: no limit, no failure
    with pytest.raises(AssertionError, match=r"yield 0.100 < 0.800: 1 of 10 chips .* reference mismatch=spec"):
        check(verdict(0.1))


def test_the_engine_fails_a_driver_path_that_differs_from_the_simulator():
    from harness.suites.engine import check
    with pytest.raises(AssertionError, match="differs from the batched simulator in 3 spike bits: chip seed 4 "
                                             r"\(emulated:4\): spikes: .* first at trial 0, step 5, neuron 7"):
        check(verdict(1.0, bit_errors=3))


OUTCOME_TESTS = '''
import pytest

@pytest.fixture
def broken():
    raise ConnectionRefusedError("board at socket://127.0.0.1:1 refused")

def test_pass():
    pass

def test_missed_limit():
    assert 0.5 >= 0.8, "yield 0.500 < 0.800"

def test_crash_in_the_test():
    raise ValueError("levels has 'banana'")

def test_broken_target(broken):
    pass

def test_skipped():
    pytest.skip("no board")
'''


def test_outcomes_follow_pytest_with_assertions_as_fail_and_exceptions_as_error(pytester, tmp_path):
    pytester.makepyfile(OUTCOME_TESTS)
    results = tmp_path / "results"
    pytester.runpytest("-p", "no:cacheprovider", f"--harness-results={results}")
    outcomes = {t["nodeid"].split("::")[1]: t for t in json.loads((results / "outcomes.json").read_text())["tests"]}
    assert {name: t["outcome"] for name, t in outcomes.items()} == {
        "test_pass": "pass", "test_missed_limit": "fail", "test_crash_in_the_test": "error",
        "test_broken_target": "error", "test_skipped": "skip"}
    assert outcomes["test_missed_limit"]["message"].startswith("yield 0.500 < 0.800")
    assert outcomes["test_broken_target"]["message"] == \
        "ConnectionRefusedError: board at socket://127.0.0.1:1 refused"
    assert outcomes["test_skipped"]["message"] == "no board"
    assert run_outcome(json.loads((results / "outcomes.json").read_text())) == ERROR


STOPPING_TESTS = '''
import pytest
from harness.cluster import ClusterError

@pytest.fixture
def cluster():
    raise ClusterError("cannot reach the Dask scheduler at tcp://127.0.0.1:1")

def test_first(cluster):
    pass

def test_second(cluster):
    pass

def test_third():
    pass
'''


def test_a_cluster_that_cannot_be_reached_stops_the_session_at_its_first_failure(pytester, tmp_path):
    pytester.makepyfile(STOPPING_TESTS)
    results = tmp_path / "results"
    pytester.runpytest("-p", "no:cacheprovider", f"--harness-results={results}")
    outcomes = json.loads((results / "outcomes.json").read_text())
    assert [(t["nodeid"].split("::")[1], t["outcome"]) for t in outcomes["tests"]] == [("test_first", "error")]
    assert outcomes["errors"] == ["the run stopped at its first failure: cannot reach the Dask scheduler at "
                                  "tcp://127.0.0.1:1; 2 of 3 configured tests did not run"]
    assert run_outcome(outcomes) == ERROR
