"""`harness train` end to end at tiny size."""
import numpy as np
from click.testing import CliRunner

from harness.commands.train import train
from sim.netfile import load_network


def test_train_cli_writes_loadable_network(tmp_path):
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(train, [
        "--task", "xor", "--method", "ads", "--backend", "numpy", "--seed", "1", "--out", str(out),
        "--neurons", "48", "--epochs", "1", "--teacher-epochs", "2",
        "--train-samples", "16", "--val-samples", "8", "--test-samples", "8"])
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    net = load_network(out)
    assert net.n_neurons == 48
    meta = net.meta
    assert (meta["task"], meta["method"], meta["seed"], meta["n_neurons"]) == ("xor", "ads", 1, 48)
    assert 0.0 <= meta["metrics"]["test_accuracy"] <= 1.0
    assert "teacher" in meta["hyper"] and "ads" in meta["hyper"]
    assert np.all(np.isfinite(net.w_slow))


def test_train_cli_bad_task_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(train, ["--task", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o.npz")])
    assert result.exit_code != 0
    assert "no such data file" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(train, ["--task", "spoken", "--out", str(tmp_path / "o.npz")])
    assert "unknown task 'spoken'" in result.output


def test_train_cli_hardware_aware(tmp_path):
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(train, [
        "--task", "xor", "--method", "bptt", "--backend", "numpy", "--out", str(out), "--neurons", "24",
        "--epochs", "1", "--train-samples", "16", "--val-samples", "8", "--test-samples", "8",
        "--hardware-aware", "10%"])
    assert result.exit_code == 0, result.output
    assert "hardware-aware at mismatch 0.1" in result.output
    assert load_network(out).meta["hardware_aware"] == 0.1
    result = CliRunner().invoke(train, ["--method", "force", "--out", str(out), "--train-samples", "16",
                                        "--hardware-aware"])
    assert result.exit_code != 0 and "not 'force'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(train, ["--out", str(out), "--hardware-aware", "much"])
    assert result.exit_code != 0 and "expected spec" in result.output


def test_train_cli_fan_in(tmp_path):
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(train, [
        "--task", "xor", "--backend", "numpy", "--out", str(out), "--neurons", "48", "--epochs", "1",
        "--teacher-epochs", "2", "--train-samples", "16", "--val-samples", "8", "--test-samples", "8",
        "--fast-fan-in", "5", "--slow-fan-in", "7", "--gradual-prune", "--select-chips", "2"])
    assert result.exit_code == 0, result.output
    net = load_network(out)
    assert (net.w_fast != 0).sum(0).max() <= 5 and (net.w_slow != 0).sum(0).max() <= 7
    ads = net.meta["hyper"]["ads"]
    assert (ads["fast_fan_in"], ads["slow_fan_in"], ads["slow_gradual"], ads["select_chips"]) == (5, 7, True, 2)
    result = CliRunner().invoke(train, ["--method", "force", "--out", str(out), "--slow-fan-in", "3"])
    assert result.exit_code != 0 and "--slow-fan-in: for method ads and bptt only" in result.output
    result = CliRunner().invoke(train, ["--method", "force", "--out", str(out), "--one-cut"])
    assert result.exit_code != 0 and "--gradual-prune/--one-cut: for method ads only" in result.output


def test_train_cli_bptt_on_sampled_chips(tmp_path):
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(train, [
        "--task", "xor", "--method", "bptt", "--backend", "numpy", "--out", str(out), "--neurons", "24",
        "--epochs", "1", "--train-samples", "16", "--val-samples", "8", "--test-samples", "8",
        "--hardware-aware", "--chips", "4", "--worst-quantile", "0.25", "--slow-fan-in", "5", "--lr", "0.01",
        "--weight-bits", "4", "--tau-syn", "150"])
    assert result.exit_code == 0, result.output
    net = load_network(out)
    assert (net.w_slow != 0).sum(0).max() <= 5
    assert {k: net.meta["hyper"][k] for k in ("chips", "worst", "fan_in", "lr", "weight_bits")} == \
        {"chips": 4, "worst": 0.25, "fan_in": 5, "lr": 0.01, "weight_bits": 4}
    assert np.all(net.tau_slow == 150) and net.tau_out == 150 and net.meta["hyper"]["tau_syn"] == 150
    result = CliRunner().invoke(train, ["--method", "bptt", "--out", str(out), "--train-samples", "4", "--chips", "4"])
    assert result.exit_code != 0 and "hardware_aware" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(train, ["--method", "ads", "--out", str(out), "--chips", "4", "--lr", "1"])
    assert result.exit_code != 0 and "--chips, --lr: for method bptt only, not 'ads'" in result.output
