"""`harness robustness` end to end on tiny networks (task registry and methods stubbed)."""
import json
import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

import harness.deploy  # noqa: F401 - imported before the stubs below, so it keeps the real task registry
from harness.cli import main
from sim.baselines import train_reservoir
from sim.netfile import load_network, save_network
from sim.perturb import nominal_accuracy
from sim.tasks.base import Task
from sim.tasks.xor import xor_dataset


def tiny_xor(seed=0):
    rng = np.random.default_rng(seed)
    return Task("xor", *(xor_dataset(n, rng, n_steps=200, pulse_ms=20) for n in (64, 16, 24)))


@pytest.fixture
def stubs(monkeypatch):
    """Tiny stand-ins for sim.tasks.registry and sim.methods; records training calls."""
    calls = []
    registry = types.ModuleType("sim.tasks.registry")
    registry.TaskError = ValueError
    registry.load_task = lambda name, seed: tiny_xor(seed) if name == "xor" else (_ for _ in ()).throw(
        ValueError(f"unknown task {name!r}"))
    registry.rebuild_task = lambda name, meta: registry.load_task(name, meta["seed"])
    methods = types.ModuleType("sim.methods")

    def reservoir(task, *, seed, backend):
        calls.append(seed)
        return train_reservoir(task, n_neurons=40, seed=seed, backend=backend)

    methods.METHODS = {"reservoir": reservoir}
    methods.train = lambda method, task, *, seed, backend: methods.METHODS[method](task, seed=seed, backend=backend)
    monkeypatch.setitem(sys.modules, "sim.tasks.registry", registry)
    monkeypatch.setitem(sys.modules, "sim.methods", methods)
    return calls


def test_table_from_saved_networks_and_json(tmp_path, stubs):
    paths = []
    for seed in (0, 1):
        path = tmp_path / f"net{seed}.npz"
        save_network(train_reservoir(tiny_xor(seed), n_neurons=40, seed=seed), path)
        paths.append(str(path))
    out = tmp_path / "table.json"
    result = CliRunner().invoke(main, ["robustness", *paths, "--draws", "2", "--backend", "numpy",
                                       "--test-samples", "12", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "reservoir" in result.output and "mismatch 30%" in result.output and "death 40%" in result.output
    table = json.loads(out.read_text())
    assert table["n_test"] == 12 and table["draws"] == 2 and len(table["networks"]) == 2
    summary = table["methods"]["reservoir"]["mismatch 10%"]
    assert summary["n"] == 4 and summary["q25"] <= summary["median"] <= summary["q75"]
    assert table["methods"]["reservoir"]["mismatch 0%"]["median"] > 0.7


def test_train_then_resume(tmp_path, stubs):
    args = ["robustness", "--train", "--task", "xor", "--methods", "reservoir", "--networks", "2", "--draws", "1",
            "--out-dir", str(tmp_path / "nets"), "--backend", "numpy", "--test-samples", "8"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in (tmp_path / "nets").iterdir()) == ["xor-reservoir-seed0.npz", "xor-reservoir-seed1.npz"]
    assert stubs == [0, 1]
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert stubs == [0, 1]  # reused, not retrained


def test_errors_are_clean(tmp_path, stubs):
    runner = CliRunner()
    result = runner.invoke(main, ["robustness"])
    assert result.exit_code != 0 and "no networks" in result.output
    result = runner.invoke(main, ["robustness", str(tmp_path / "missing.npz")])
    assert result.exit_code != 0 and "no such network file" in result.output
    result = runner.invoke(main, ["robustness", "--train", "--task", "xor", "--methods", "nope",
                                  "--out-dir", str(tmp_path)])
    assert result.exit_code != 0 and "unknown method(s) nope" in result.output
    assert "Traceback" not in result.output


def test_float_model_against_chips(tmp_path, stubs):
    path = tmp_path / "net.npz"
    save_network(train_reservoir(tiny_xor(0), n_neurons=40, seed=0), path)
    out = tmp_path / "table.json"
    result = CliRunner().invoke(main, ["robustness", str(path), "--chips", "3", "--chip-levels", "0,0.1,spec",
                                       "--no-float-table", "--backend", "numpy", "--test-samples", "8",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "float-predicted" in result.output and "chip spec" in result.output
    comparison = json.loads(out.read_text())["chip_comparison"]
    assert comparison["levels"] == ["chip 0%", "chip 10%", "chip spec"] and comparison["chips"] == 3
    record = comparison["networks"][0]["levels"]
    assert all(len(record[level][side]) == 3 for level in comparison["levels"] for side in ("float", "chip"))
    assert len(set(record["chip 0%"]["chip"])) == 1 and len(set(record["chip 0%"]["float"])) == 1  # nominal
    cell = comparison["methods"]["reservoir"]["chip spec"]
    assert 0 <= cell["chip"]["yield"] <= 1 and 0 <= cell["float"]["median"] <= 1
    assert comparison["float_model"] == "compiled" and comparison["refit"]
    # the compiled network's float model, its readout re-fitted as the chip's, predicts the nominal chip
    assert record["chip 0%"]["float"] == record["chip 0%"]["chip"] == [1.0] * 3
    result = CliRunner().invoke(main, ["robustness", str(path), "--chips", "3", "--chip-levels", "0",
                                       "--float-model", "network", "--no-float-table", "--backend", "numpy",
                                       "--test-samples", "8", "--json", str(out)])
    assert result.exit_code == 0, result.output
    comparison = json.loads(out.read_text())["chip_comparison"]
    task = tiny_xor(0)
    task.test = task.test.balanced(8, 2)
    assert comparison["float_model"] == "network"
    nominal = comparison["networks"][0]["levels"]["chip 0%"]
    assert nominal["float"] == [nominal_accuracy(load_network(path), task, "numpy")] * 3 == [0.75] * 3  # float readout
    assert nominal["chip"] == [1.0] * 3
    result = CliRunner().invoke(main, ["robustness", str(path), "--chips", "2", "--chip-levels", "0.1,huge"])
    assert result.exit_code != 0 and "--chip-levels" in result.output and "Traceback" not in result.output


def test_a_network_trained_on_user_data_is_evaluated_on_its_own_test_split(tmp_path):
    from sim.tasks.userdata import load_userdata  # noqa: PLC0415
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 2
    inputs = rng.normal(0.0, 0.1, (60, 50, 1)) + np.where(labels, 1.0, -1.0)[:, None, None]
    data = tmp_path / "mydata.npz"
    np.savez(data, inputs=inputs, labels=labels)
    net = tmp_path / "net.npz"
    save_network(train_reservoir(load_userdata(data, seed=3), n_neurons=40, seed=0), net)
    out = tmp_path / "table.json"
    result = CliRunner().invoke(main, ["robustness", str(net), "--draws", "1", "--backend", "numpy",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output  # the task is the recorded data file, not a name to look up
    assert json.loads(out.read_text())["n_test"] == len(load_userdata(data, seed=3).test)
