"""The run directory: measurements, chip records, resume fingerprints, atomicity, summary."""
import json

import pytest

from harness.recorder import RunRecorder, replay
from harness.results import FRACTION, Measurement, ResultsError, RunDir
from harness.run_config import RunConfig, RunConfigError, config_from_dict, load_config
from harness.stream import ConditionMeasured, MeasurementStream, SessionFinished, TestFinished


def test_measurement_outcome_follows_limits():
    assert Measurement("accuracy", 0.8, "fraction", low=0.75).outcome == "pass"
    assert Measurement("accuracy", 0.7, "fraction", low=0.75).outcome == "fail"
    assert Measurement("bits", 3, "count", high=0).outcome == "fail"
    assert Measurement("accuracy", 0.7, "fraction").outcome == "info"
    assert Measurement("accuracy", float("nan"), "fraction", low=0.0).outcome == "fail"
    data = Measurement("yield", 0.9, "fraction", low=0.8).to_dict()
    assert data == {"name": "yield", "value": 0.9, "units": "fraction", "limits": {"low": 0.8, "high": None},
                    "outcome": "pass"}
    assert Measurement.from_dict(data) == Measurement("yield", 0.9, "fraction", low=0.8)


def test_records_are_reused_only_with_the_same_fingerprint(tmp_path):
    run = RunDir(tmp_path)
    m = [Measurement("accuracy", 0.9, "fraction", low=0.75)]
    run.record("noise", "xor-ads-dynapse1", 7, "level=0.01", "abc", m, {"samples": 4})
    run.record("noise", "xor-ads-dynapse1", 7, "level=0.1", "abc", m, {"samples": 4})
    assert run.cached("noise", "xor-ads-dynapse1", 7, "level=0.01", "abc") == m
    assert run.cached("noise", "xor-ads-dynapse1", 7, "level=0.01", "other") is None
    assert run.cached("noise", "xor-ads-dynapse1", 8, "level=0.01", "abc") is None
    record = json.loads(run.record_path("noise", "xor-ads-dynapse1", 7).read_text())
    assert record["chip_seed"] == 7 and set(record["conditions"]) == {"level=0.01", "level=0.1"}
    assert record["conditions"]["level=0.1"]["measurements"][0]["outcome"] == "pass"
    assert [r["chip"] for r in run.records("noise")] == ["chip-7"]


def test_a_run_directory_refuses_another_configuration_and_notes_resumes(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.start("chips = 1\n", {"seed": 0}) is False
    assert run.start("chips = 1\n", {"seed": 0}) is True
    manifest = run.manifest()
    assert len(manifest["resumed"]) == 1 and "numpy" in manifest["packages"]
    with pytest.raises(ResultsError, match="different configuration"):
        run.start("chips = 2\n", {"seed": 0})


def test_interrupted_writes_leave_no_debris_and_corrupt_files_are_named(tmp_path):
    run = RunDir(tmp_path)
    run.start("x = 1\n", {})
    (tmp_path / "records" / "s" / "n").mkdir(parents=True)
    debris = tmp_path / "records" / "s" / "n" / ".chip-1.json.abc.tmp"
    debris.write_text("{half")
    run.start("x = 1\n", {})
    assert not debris.exists()
    bad = run.record_path("s", "n", 2)
    bad.write_text("{half")
    with pytest.raises(ResultsError, match="chip-2.json"):
        run.cached("s", "n", 2, "c", "f")


def test_summary_joins_test_outcomes_and_verdicts(tmp_path):
    run = RunDir(tmp_path)
    run.start("x = 1\n", {"seed": 3, "chip_seeds": [3, 4]})
    stream, recorder = MeasurementStream(), RunRecorder(run)
    stream.subscribe(recorder)
    yield_ = Measurement("yield", 0.5, FRACTION, low=0.8)
    for condition, verdict, outcome in (("level=0.1", "pass", "pass"), ("level=0.3", "info", "pass"),
                                        ("level=spec", "fail", "fail"), ("level=0.2", "pass", "error")):
        stream.publish(ConditionMeasured("mismatch_yield", "xor-ads-dynapse1", condition, (yield_,), verdict))
        stream.publish(TestFinished(condition, outcome, "", "mismatch_yield", "xor-ads-dynapse1", condition))
    stream.publish(TestFinished("skipped", "skip", "no board", "supply_sweep", "xor-ads-dynapse1"))
    stream.publish(SessionFinished(1))
    summary = recorder.summary
    assert summary["totals"] == {"tests": 5, "pass": 2, "fail": 1, "error": 1, "skip": 1, "characterised": 1}
    assert summary["outcome"] == "ERROR"
    assert [t.get("verdict") for t in summary["tests"]] == ["pass", "info", "fail", None, None]  # no stale verdict
    assert summary["tests"][0]["measurements"] == [yield_.to_dict()]
    assert summary["run"]["chip_seeds"] == [3, 4]
    assert json.loads(run.summary_path.read_text()) == summary
    assert json.loads(run.outcomes_path.read_text())["tests"][4]["message"] == "no board"
    assert replay(run) == summary  # the run directory gives the same summary again


def test_a_run_without_recorded_outcomes_is_an_error(tmp_path):
    run = RunDir(tmp_path)
    run.start("x = 1\n", {"seed": 0, "chip_seeds": [0]})
    summary = replay(run)
    assert summary["outcome"] == "ERROR" and summary["totals"]["tests"] == 0 and summary["errors"]


def test_run_config_round_trips_and_names_bad_fields(tmp_path):
    config = RunConfig().with_options(methods=["all"], chips=3)
    assert config.methods == ("ads", "bptt", "force", "reservoir") and config.chip_seeds == [0, 1, 2]
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    path.write_text("chips = 4\n[suite.noise]\nlevels = [0.1]\nassert_at = [0.1]\n[suite.common]\nsamples = 3\n")
    loaded = load_config(path)
    assert loaded.suite_params("noise")["levels"] == [0.1] and loaded.suite_params("noise")["samples"] == 3
    assert loaded.suite_params("quantisation")["samples"] == 3
    for text, field in (("chips = 0", "'chips'"), ("[suite.noise]\nlevel = [1]", "'suite.noise.level'"),
                        ("methods = ['sgd']", "'methods'"), ("[sizes]\nn_test = -1", "'sizes.n_test'"),
                        ("[suite.common]\nyield_threshold = 1.5", "'suite.common.yield_threshold'"),
                        ("target = ''", "'target'"), ("backend = 'tpu'", "'backend'")):
        path.write_text(text + "\n")
        with pytest.raises(RunConfigError, match=field):
            load_config(path)
    with pytest.raises(RunConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(RunConfigError, match="command line: field 'chips'"):
        RunConfig().with_options(chips=-2)
    assert config_from_dict({}) == RunConfig()
