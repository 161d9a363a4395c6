"""`harness run` end to end at tiny sizes: run directory, report, plots, resume after Ctrl-C,
and the suites through a virtual board on a serial port giving the in-process numbers.

The network is a small random one placed in the run's network cache (the suites do not
care how good it is), so no test trains."""
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.networks import cache_path
from harness.run_config import load_config
from sim.netfile import save_network
from tests.networks import random_network

HARNESS = [sys.executable, "-c", "from harness.cli import main; main()"]
# `harness` as started from a terminal, where Ctrl-C raises KeyboardInterrupt. A background job
# (`pytest ... &` in a script, some CI runners) inherits SIGINT ignored, and Python then leaves
# it ignored, so the tests that send SIGINT would find it never delivered.
INTERRUPTIBLE = [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                 "from harness.cli import main; main()"]
HANG_S = 300  # a bound only a hang reaches, also on a loaded 2-core machine
CONFIG = (Path(__file__).parent.parent / "fixtures" / "tiny_run.toml.in").read_text()


def write_config(folder: Path, chips: int = 4, chunk: int = 2) -> Path:
    """A tiny run configuration whose cached network is a random 24-neuron one."""
    path = folder / "run.toml"
    path.write_text(CONFIG.format(chips=chips, chunk=chunk, cache=folder / "cache"))
    config = load_config(path)
    net = random_network(np.random.default_rng(1), n=24, n_in=1, n_out=1)
    net.meta.update(task="xor", method="ads")
    save_network(net, cache_path(config, "xor", "ads"))
    return path


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*HARNESS, *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_S)


def verdict_numbers(run: Path) -> dict[str, tuple]:
    numbers = {}
    for path in sorted((run / "verdicts").glob("*/*/*.json")):
        v = json.loads(path.read_text())
        numbers[str(path.relative_to(run))] = (v["accuracies"], v["yield"], v["outcome"], v["driver"]["bit_errors"])
    return numbers


def all_files_complete(run: Path) -> None:
    """No temporary debris; every JSON parses; every PNG is a whole PNG."""
    assert not [p for p in run.rglob("*.tmp")]
    for path in run.rglob("*.json"):
        json.loads(path.read_text())
    for path in run.rglob("*.png"):
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """One complete in-process run (emulator target)."""
    folder = tmp_path_factory.mktemp("baseline")
    config = write_config(folder)
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder, result


def test_harness_run_writes_a_complete_run_directory(baseline):
    folder, result = baseline
    run = folder / "run"
    all_files_complete(run)
    assert "tests:" in result.stdout and "report:" in result.stdout
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["chip_seeds"] == [0, 1, 2, 3] and manifest["spec_version"] == "vc1"
    assert {"numpy", "python", "snn-hil-harness"} <= set(manifest["packages"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["totals"]["fail"] == 0 and summary["totals"]["tests"] == 6
    cases = list(ET.parse(run / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == 6  # the board-only test is not part of a run on the emulator
    properties = {p.get("name"): p.get("value") for case in cases for p in case.iter("property")}
    assert {"yield", "yield.units", "yield.low", "yield_uncalibrated", "yield_calibrated",
            "accuracy_median_calibrated", "driver_bit_errors", "driver_bit_errors.high"} <= set(properties)
    assert properties["yield.units"] == "fraction" and properties["driver_bit_errors.high"] == "0.0"
    assert {"energy_per_inference", "synaptic_operations_per_inference", "spikes_per_inference",
            "activation_sparsity", "latency_per_inference"} <= set(properties)
    assert properties["energy_per_inference.units"] == "J" and float(properties["energy_per_inference"]) > 0
    for test in summary["tests"]:  # NeuroBench's names, per network and condition
        energy = test["energy"]
        assert energy["synaptic_operations"]["Effective_ACs"] > 0 and 0 < energy["activation_sparsity"] < 1
        assert 0 < energy["connection_sparsity"] < 1 and energy["footprint"] > 0 and energy["cam_entries"] > 0
        assert energy["energy_per_inference"]["model_j"]["mean"] > energy["energy_per_inference"]["breakdown"]["static_j"]
        assert energy["latency_per_inference_s"] == energy["steps"] / 1000
    records = list((run / "records").glob("*/xor-ads-dynapse1/chip-*.json"))
    assert len(records) == (5 + 1) * 4  # five suites and their reference conditions
    record = json.loads((run / "records/noise/xor-ads-dynapse1/chip-2.json").read_text())
    measurement = record["conditions"]["level=0.002"]["measurements"][0]
    assert set(measurement) == {"name", "value", "units", "limits", "outcome"}
    assert {p.name for p in (run / "plots").glob("*.png")} == {"accuracy_vs_mismatch.png", "yield.png",
                                                               "accuracy_hist.png", "calibration_budget.png"}
    report = (run / "report.md").read_text()
    assert report.startswith("# Robustness report: PASS\n") and "![yield](plots/yield.png)" in report
    assert "## Energy and activity per inference" in report and "Effective_ACs" in report
    (run / "report.md").unlink()
    rerender = CliRunner().invoke(main, ["report", str(run)])
    assert rerender.exit_code == 0 and (run / "report.md").read_text() == report


def test_harness_run_refuses_bad_input_with_clear_errors(baseline):
    folder, _ = baseline
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(folder / "run.toml"), "--out", str(folder / "run"), "--chips", "3"])
    assert result.exit_code == 2 and "holds a run of a different configuration" in result.output
    result = runner.invoke(main, ["run", str(folder / "missing.toml")])
    assert result.exit_code == 2 and "no such configuration file" in result.output
    result = runner.invoke(main, ["run", "--methods", "ads,sgd"])
    assert result.exit_code == 2 and "field 'methods' has unknown method 'sgd'" in result.output
    result = runner.invoke(main, ["report", str(folder)])
    assert result.exit_code == 1 and "not a run directory" in result.output


def test_suites_through_a_virtual_board_on_a_serial_port_match_in_process(baseline):
    folder, _ = baseline
    board = subprocess.Popen([*INTERRUPTIBLE, "emulate", "--pty", "--chip-seed", "0", "--mismatch", "spec"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = board.stdout.readline().strip()
        assert port.startswith("/dev/"), port
        result = harness("run", str(folder / "run.toml"), "--out", "run-board", "--target", port, "--no-progress",
                         cwd=folder)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        board.send_signal(signal.SIGINT)
        try:
            board.wait(timeout=HANG_S)
        finally:
            board.kill()  # left running only by a failure (a no-op once it has exited)
    in_process, over_wire = verdict_numbers(folder / "run"), verdict_numbers(folder / "run-board")
    assert over_wire == in_process  # same accuracies, yields, outcomes; zero differing spike bits
    checked = [json.loads(p.read_text())["driver"] for p in (folder / "run-board/verdicts").glob("*/*/*.json")]
    assert all(d["target"] == port for d in checked)
    assert sum(len(d["chips"]) for d in checked) >= 4  # every condition at the board's mismatch level
    assert all(c["chip_id"] == "seed:0" for d in checked for c in d["chips"])
    assert all(d["counter_errors"] == 0 for d in checked)  # the board's counters equal the simulator's
    readings = [c["power_monitor"] for d in checked for c in d["chips"]]  # the board's monitor, noiseless here
    assert readings and all(abs(r["model_error"]) < 1e-9 and r["measured_j"] > 0 for r in readings)
    assert "| measured (µJ) |" in (folder / "run-board/report.md").read_text()


def test_interrupted_run_resumes_without_recomputing_finished_chips(tmp_path):
    config = write_config(tmp_path, chips=8, chunk=2)
    run = tmp_path / "run"
    child = subprocess.Popen([*INTERRUPTIBLE, "run", str(config), "--out", "run", "--no-progress"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + HANG_S
    while len(list(run.glob("records/mismatch_yield/*/chip-*.json"))) < 3:  # in the first suite, far from its end
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            out, err = child.communicate()
            pytest.fail(f"the run recorded no 3 chips to interrupt (exit {child.returncode}): {out}{err}")
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=HANG_S)
    finally:
        child.kill()  # left running only by a failure (a no-op once it has exited)
    assert child.returncode == 130, out + err
    assert "rerun the same command to resume" in err
    all_files_complete(run)
    before = {}
    for path in run.glob("records/*/*/chip-*.json"):
        if path.parts[-3] == "reference":
            continue
        for condition, entry in json.loads(path.read_text())["conditions"].items():
            before[(str(path.relative_to(run)), condition)] = entry
    assert before, "interrupted before any chip was recorded"

    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming" in result.stdout
    all_files_complete(run)
    for (name, condition), entry in before.items():
        assert json.loads((run / name).read_text())["conditions"][condition] == entry  # not recomputed
    verdicts = [json.loads(p.read_text()) for p in run.glob("verdicts/*/*/*.json")]
    assert sum(v["computed_chips"] for v in verdicts) == 6 * 8 - len(before)
    assert len(json.loads((run / "manifest.json").read_text())["resumed"]) == 1
    assert os.path.getsize(run / "report.md") > 0
