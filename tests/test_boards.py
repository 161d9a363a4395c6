"""Boards under test end to end: a farm of anonymous virtual boards (one of them defective)
measured by `harness run --board`, every board's accuracy checked against its emulated
twin sample for sample, per-board and model-consistency tests, a board killed mid-run and
the rerun that completes only what is missing, and bad board configurations.

The task is an easy user data set (class 1: input on, class 0: input off) on a small random
network placed in the run's network cache, so no test trains and healthy chips score 100 %.
"""
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from drivers.board_server import serial_number
from drivers.defects import Defect, DefectiveChip
from drivers.emulator import EmulatorChip
from drivers.farm import BoardPlan, start_farm, stop_farm
from harness.boards.measure import measure_on_board
from harness.cli import main
from harness.deploy import evaluate_deployments
from harness.networks import cache_path, deploy
from harness.results import RunDir
from harness.run_config import load_config
from harness.suites.test_neuron_failure import failure_patterns
from harness.suites.test_noise import noise_amplitude
from sim.netfile import save_network
from tests.networks import random_network

HARNESS = [sys.executable, "-c", "from harness.cli import main; main()"]
FIRST_SEED = 1000
SAMPLES, TRIALS = 16, 4
CONFIG = '''tasks = ["{data}"]
chips = 8
cache = "{cache}"
instruments = "none"
[suite.common]
samples = {samples}
chunk = 8
yield_rule = "point"    # 8 chips cannot show a yield with confidence; the boards are what is tested here
calibration_trials = {trials}
budget_curve = [0, {trials}]
[suite.mismatch_yield]
levels = [0.0, "spec"]
[suite.quantisation]
bits = [2, 4]           # 2 bits characterised: its board tests judge nothing, but a board must be measured
[suite.noise]
levels = [0.01]
[suite.neuron_failure]
fractions = [0.2]
patterns = 2
assert_at = [0.2]
'''


def write_easy_run(folder: Path) -> Path:
    """The easy data set, its run configuration, and a random network for it in the cache."""
    labels = np.tile([0, 1], 100)
    inputs = np.zeros((200, 100, 1))
    inputs[labels == 1] = 1.0
    np.savez(folder / "easy.npz", inputs=inputs, labels=labels)
    path = folder / "run.toml"
    path.write_text(CONFIG.format(data=folder / "easy.npz", cache=folder / "cache", samples=SAMPLES, trials=TRIALS))
    net = random_network(np.random.default_rng(1), n=24, n_in=1, n_out=1)
    net.w_in[:] = np.abs(net.w_in)
    net.meta.update(task="easy", method="ads")
    save_network(net, cache_path(load_config(path), str(folder / "easy.npz"), "ads"))
    return path


def farm(defects: dict[int, Defect] | None = None, boards: int = 3, ports: list[int] | None = None,
         spec: str = "dynapse1") -> list:
    return start_farm([BoardPlan(spec, FIRST_SEED + i, "spec", "127.0.0.1", ports[i] if ports else 0, True,
                                 (defects or {}).get(i)) for i in range(boards)])


def harness_run(folder: Path, urls: list[str], *extra: str) -> subprocess.CompletedProcess:
    boards = [arg for url in urls for arg in ("--board", url)]
    return subprocess.run([*HARNESS, "run", "run.toml", "--out", "run", "--no-progress", *boards, *extra],
                          cwd=folder, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def farm_run(tmp_path_factory):
    """Three anonymous boards, the third with every neuron dead, in one run."""
    folder = tmp_path_factory.mktemp("boards")
    write_easy_run(folder)
    boards = farm({2: Defect("dead", 1.0)})
    try:
        result = harness_run(folder, [b.url for b in boards])
    finally:
        stop_farm(boards)
    return folder, result


def board_variant(deployment, config, row):
    """(the compiled network board #index ran at the row's condition, its noise amplitude)."""
    value = float(row["condition"].split("=", 1)[1]) if row["condition"] != "level=spec" else "spec"
    compiled = deployment.compiled
    if row["suite"] == "quantisation":
        return deployment.with_weight_bits(int(value)), 0
    if row["suite"] == "noise":
        return compiled, noise_amplitude(compiled.config, value)
    if row["suite"] == "neuron_failure":
        patterns = config.suite_params("neuron_failure")["patterns"]
        return failure_patterns(compiled, value, patterns, config.seed)[row["index"] % patterns], 0
    return compiled, 0


def test_every_board_accuracy_is_its_chip_measured_sample_for_sample(farm_run):
    folder, result = farm_run
    run = folder / "run"
    summary = json.loads((run / "summary.json").read_text())
    config = load_config(run / "config.toml")
    deployment, _ = deploy(config, RunDir(run), config.tasks[0], "ads", "dynapse1")
    measured = [row for row in summary["boards"] if "accuracy" in row]
    assert len(measured) == 3 * 5, result.stdout  # 3 boards x (mismatch spec, 2 and 4 bits, noise, neuron failure)
    for row in measured:
        index = row["index"]
        seed = FIRST_SEED + index
        assert row["chip_id"] == serial_number(seed)
        compiled, amplitude = board_variant(deployment, config, row)
        twin = EmulatorChip("dynapse1", seed, "spec") if index != 2 else \
            DefectiveChip("dynapse1", seed, "spec", Defect("dead", 1.0))
        expected = measure_on_board(compiled, twin, deployment.task, samples=SAMPLES, trials=TRIALS,
                                    noise_amplitude=amplitude)
        for budget, name in ((0, "accuracy_uncalibrated"), (TRIALS, f"accuracy_calibrated_{TRIALS}")):
            assert row["correct"][name] == expected.correct[budget].astype(int).tolist(), (row["suite"], name)
            assert row[name] == expected.accuracy(budget)
        if index != 2:  # a healthy board is the virtual chip of its seed, on the batched simulator too
            simulated = evaluate_deployments(compiled, deployment.task, chip_seeds=[seed], mismatch="spec",
                                             noise_amplitude=amplitude, samples=SAMPLES, trials=(0, TRIALS))
            assert [row["accuracy_uncalibrated"], row[f"accuracy_calibrated_{TRIALS}"]] == \
                [simulated[0][0], simulated[TRIALS][0]]


def test_a_defective_board_fails_its_tests_and_falls_outside_the_band(farm_run):
    folder, result = farm_run
    assert result.returncode == 1, result.stdout + result.stderr  # FAIL: the defective board's tests
    summary = json.loads((folder / "run" / "summary.json").read_text())
    defective, healthy = serial_number(FIRST_SEED + 2), serial_number(FIRST_SEED)
    board_tests = [t for t in summary["tests"] if t.get("unit") not in (None, "model")]
    judged = [t for t in board_tests if t["condition"] != "bits=2"]  # asserted: spec, 4 bits, noise, failure
    assert {t["outcome"] for t in judged if t["unit"] == defective} == {"fail"}
    assert {t["outcome"] for t in judged if t["unit"] != defective} == {"pass"}
    assert len(board_tests) == 3 * 5 and {t["verdict"] for t in board_tests if t["condition"] == "bits=2"} == {"info"}
    rows = [r for r in summary["boards"] if "accuracy" in r]
    assert all(not r["inside_band"] and r["percentile"] == 0 for r in rows if r["chip_id"] == defective)
    assert all(r["inside_band"] for r in rows if r["chip_id"] == healthy)
    # 1 of 3 outside is within what the binomial test allows at alpha 0.01: the model stands
    assert {t["outcome"] for t in summary["tests"] if t.get("unit") == "model"} == {"pass"}
    virtual_only = [r for r in summary["boards"] if "virtual_only" in r]
    assert {r["condition"] for r in virtual_only} == {"level=0.0"} and len(virtual_only) == 3
    assert f"FAIL  mismatch_yield easy-ads-dynapse1 level=spec board {defective}: accuracy 50.0%" in result.stdout
    cases = {case.get("name"): case for case in ET.parse(folder / "run" / "junit.xml").getroot().iter("testcase")}
    board_case = cases[f"test_noise_board[easy-ads-dynapse1-level=0.01-{healthy}]"]
    properties = {p.get("name"): p.get("value") for p in board_case.iter("property")}
    assert properties["accuracy.low"] == "0.75" and properties["inside_band"] == "1.0"
    report = (folder / "run" / "report.md").read_text()
    assert "## Boards" in report and "virtual chips only" in report and "### The model against the boards" in report


def wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_a_board_killed_mid_run_is_an_error_and_the_rerun_completes_only_what_is_missing(tmp_path):
    write_easy_run(tmp_path)
    boards = farm()
    ports = [int(b.url.rsplit(":", 1)[1]) for b in boards]
    victim = serial_number(FIRST_SEED + 1)
    process = subprocess.Popen([*HARNESS, "run", "run.toml", "--out", "run", "--no-progress",
                                *(arg for b in boards for arg in ("--board", b.url)), "--link-timeout", "2"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(tmp_path / "run" / "records" / "boards" / "easy-ads-dynapse1" / f"{victim}.json")
        boards[1].process.kill()
        output, _ = process.communicate(timeout=600)
    finally:
        stop_farm(boards)
    assert process.returncode == 2, output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    errors = [t for t in summary["tests"] if t["outcome"] == "error"]
    assert errors and all(t["unit"] in (victim, "model") for t in errors)
    assert any(victim in t["message"] and "socket://127.0.0.1" in t["message"] for t in errors if t["unit"] == victim)
    others = [r for r in summary["boards"] if r["chip_id"] != victim and "virtual_only" not in r]
    assert len(others) == 2 * 5 and all("accuracy" in r for r in others)
    before = {r["condition"] for r in summary["boards"] if r["chip_id"] == victim and "accuracy" in r}
    assert 1 <= len(before) < 5

    boards = farm(ports=ports)  # the board is back, at the same port
    try:
        rerun = harness_run(tmp_path, [b.url for b in boards], "--link-timeout", "2")
    finally:
        stop_farm(boards)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    rows = [r for r in json.loads((tmp_path / "run" / "summary.json").read_text())["boards"] if "accuracy" in r]
    assert len(rows) == 3 * 5
    assert all(r.get("reused") for r in rows if r["chip_id"] != victim)         # nothing measured again
    assert {r["condition"] for r in rows if r["chip_id"] == victim and r.get("reused")} == before
    assert all(not r.get("reused") for r in rows if r["chip_id"] == victim and r["condition"] not in before)


def test_bad_board_configurations_are_one_line_errors_before_anything_runs(tmp_path):
    write_easy_run(tmp_path)
    runner = CliRunner()
    twice = runner.invoke(main, ["run", str(tmp_path / "run.toml"), "--out", str(tmp_path / "a"),
                                 "--board", "socket://127.0.0.1:9", "--board", "socket://127.0.0.1:9"])
    assert twice.exit_code == 2 and "field 'boards' lists 'socket://127.0.0.1:9' twice" in twice.output
    (tmp_path / "bad.toml").write_text('boards = "x"\n')
    text = runner.invoke(main, ["run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "b")])
    assert text.exit_code == 2 and "field 'boards' must be a list of board URLs" in text.output
    other = farm(boards=1, spec="dense1k")
    try:
        result = runner.invoke(main, ["run", str(tmp_path / "run.toml"), "--out", str(tmp_path / "c"),
                                      "--board", other[0].url])
    finally:
        stop_farm(other)
    assert result.exit_code == 2 and f"boards: board at {other[0].url} is a dense1k" in result.output
    for bad in (twice, text, result):
        assert len(bad.output.strip().splitlines()) == 1, bad.output
    assert not any((tmp_path / name).exists() for name in "abc")  # nothing ran


def test_plain_pytest_takes_boards_with_harness_board(tmp_path):
    write_easy_run(tmp_path)
    boards = farm(boards=1)
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "harness.suites.test_noise",
                                 f"--harness-config={tmp_path / 'run.toml'}", f"--harness-board={boards[0].url}",
                                 f"--harness-results={tmp_path / 'results'}", "-p", "no:cacheprovider", "-q"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        stop_farm(boards)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout   # the virtual chips' test and the board's; no model test with one board
    assert f"PASS  noise easy-ads-dynapse1 level=0.01 board {serial_number(FIRST_SEED)}: accuracy 100.0%" \
        in result.stdout


def test_an_unreachable_board_is_an_error_even_where_nothing_is_asserted(tmp_path):
    write_easy_run(tmp_path)
    text = (tmp_path / "run.toml").read_text().replace('tasks = [', 'suites = ["noise"]\ntasks = [')
    (tmp_path / "run.toml").write_text(text.replace("levels = [0.01]", "levels = [0.01]\nassert_at = []"))
    result = harness_run(tmp_path, ["socket://127.0.0.1:9"], "--link-timeout", "2")
    assert result.returncode == 2, result.stdout + result.stderr   # not CHARACTERISED: the board never ran
    assert "ERROR noise easy-ads-dynapse1 level=0.01 board socket://127.0.0.1:9: " in result.stdout
    assert "-> ERROR" in result.stdout
