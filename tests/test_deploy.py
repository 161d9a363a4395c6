"""Evaluation on chips and the `harness compile` / `harness deploy` commands."""
import numpy as np
import pytest
from click.testing import CliRunner

from drivers.emulator import EmulatorChip
from harness.cli import main
from harness.compiler import CompiledNetwork, CompileError, compile_network
from harness.deploy import check_task, evaluate_batched, evaluate_float, evaluate_on_chip
from sim.netfile import save_network
from sim.tasks.xor import make_xor
from tests.networks import random_network


@pytest.fixture(scope="module")
def task():
    return make_xor(0, n_train=8, n_val=4, n_test=8, n_steps=500)


@pytest.fixture(scope="module")
def net():
    network = random_network(np.random.default_rng(0), n=24, n_in=1)
    network.meta.update(task="xor", task_meta={"seed": 0, "n_steps": 500}, method="test")
    return network


def test_batched_and_single_chip_evaluation_agree(task, net):
    compiled = compile_network(net, "dynapse1", task.train.inputs)
    per_chip = evaluate_batched(compiled, task, chip_seeds=[3, 4], mismatch="spec", backend="numpy", samples=6)
    assert per_chip.shape == (2,)
    for seed, accuracy in zip((3, 4), per_chip):
        assert evaluate_on_chip(compiled, EmulatorChip("dynapse1", seed, "spec"), task, samples=6) == accuracy


def test_a_network_for_another_task_is_refused(task, net):
    other = net.replace(meta={**net.meta, "task": "keyword"})
    with pytest.raises(CompileError, match="trained for task 'keyword', not 'xor'"):
        evaluate_float(other, task)
    wide = random_network(np.random.default_rng(1), n=8, n_in=3)
    with pytest.raises(CompileError, match="3 inputs"):
        check_task(compile_network(wide, "dynapse1"), task)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, net):
    folder = tmp_path_factory.mktemp("deploy")
    return save_network(net, folder / "net.npz")


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_compile_writes_a_configuration_and_prints_the_report(saved, tmp_path):
    out, report = tmp_path / "compiled.npz", tmp_path / "report.json"
    result = invoke("compile", saved, "--spec", "dense1k", "-o", out, "--report", report, "--chips", 2,
                    "--samples", 4, "--refit", "--backend", "numpy")
    assert result.exit_code == 0, result.output
    assert "mapping report" in result.output and "2 virtual chips at mismatch spec" in result.output
    compiled = CompiledNetwork.load(out)
    assert compiled.report["accuracy"]["samples"] == 4 and report.is_file()
    result = invoke("deploy", out, "--target", "emulator", "--chip-seed", 1, "--samples", 4)
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output and "seed:1" in result.output
    assert "energy per inference (model, 1.8 V):" in result.output and "synaptic events" in result.output


def test_deploy_compiles_a_plain_network_for_the_spec(saved):
    result = invoke("deploy", saved, "--spec", "dynapse1", "--mismatch", "0", "--samples", 2)
    assert result.exit_code == 0, result.output
    assert "dynapse1 chip seed:0" in result.output


def test_bad_inputs_give_clear_errors(saved, net, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    result = invoke("deploy", junk)
    assert result.exit_code != 0 and "neither a saved network" in result.output
    result = invoke("compile", junk, "-o", tmp_path / "x.npz")
    assert result.exit_code != 0 and "junk.npz" in result.output and "not a saved network" in result.output
    keyword_net = save_network(net.replace(meta={**net.meta, "task": "keyword"}), tmp_path / "kw.npz")
    result = invoke("compile", keyword_net, "--task", "xor", "-o", tmp_path / "x.npz", "--chips", 0)
    assert result.exit_code != 0 and "trained for task 'keyword', not 'xor'" in result.output
    tiny = tmp_path / "tiny.toml"
    tiny.write_text('name = "tiny"\nspec_version = "vc1"\ncores = 1\nneurons_per_core = 16\ninputs = 4\n'
                    'fan_in = 8\ndt_ms = 1.0\n[mismatch_cv]\ndmem = 0.1\ntheta = 0.1\nidc = 0.1\ndsyn = 0.1\n'
                    'wsyn_fast = 0.1\nwsyn_slow = 0.1\n')
    result = invoke("compile", saved, "--spec", tiny, "-o", tmp_path / "x.npz")
    assert result.exit_code != 0 and "24 neurons; spec tiny has only 16" in result.output
    result = invoke("deploy", saved, "--target", "emulator", "--mismatch", "lots")
    assert result.exit_code != 0 and "mismatch level 'lots'" in result.output


def test_a_trained_xor_network_keeps_its_accuracy_on_the_nominal_dense1k_chip():
    from sim.methods import train  # noqa: PLC0415 - training is only needed here

    xor = make_xor(0, n_train=64, n_val=32, n_test=64, n_steps=600)
    net = train("bptt", xor, n_neurons=64, epochs=1, seed=0, backend="numpy")
    float_accuracy = evaluate_float(net, xor, backend="numpy")
    assert float_accuracy >= 0.8
    compiled = compile_network(net, "dense1k", xor.train.inputs)
    nominal = evaluate_batched(compiled, xor, mismatch=0, backend="numpy")[0]
    assert nominal >= float_accuracy - 0.03


def test_a_data_set_given_under_a_new_path_keeps_the_training_split(tmp_path):
    from harness.deploy import task_for  # noqa: PLC0415
    from sim.tasks.userdata import load_userdata  # noqa: PLC0415
    rng = np.random.default_rng(0)
    moved = tmp_path / "moved.npz"
    np.savez(moved, inputs=rng.normal(size=(40, 20, 2)), labels=np.arange(40) % 2)
    meta = {"task": "data", "task_meta": {"source": str(tmp_path / "gone.npz"), "seed": 3, "final_fraction": 0.25}}
    task = task_for(meta, str(moved))
    np.testing.assert_array_equal(task.test.inputs, load_userdata(moved, seed=3).test.inputs)
