"""Redundant replicas (`compile_network(..., replicas=R)`): placement, limits, and the same
bits on every target."""
import numpy as np
import pytest
from click.testing import CliRunner

from drivers.board_server import BoardServer
from drivers.conformance import assert_same_result
from drivers.emulator import EmulatorChip
from drivers.endpoints import TcpEndpoint
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from harness.cli import main
from harness.compiler import CompiledNetwork, CompileError, compile_network
from harness.networks import Deployment, compile_for_chip
from harness.report import _networks
from harness.results import RunDir
from harness.run_config import RunConfigError, config_from_dict
from sim.chip.batched import BatchedChips
from sim.atomic import write_json
from sim.chip.config import EMPTY
from sim.chip.spec import load_spec
from sim.netfile import save_network
from sim.tasks.xor import make_xor
from tests.networks import random_network

N, M = 14, 2


@pytest.fixture(scope="module")
def pair():
    """The same tiny network compiled once plainly and once with two replicas; its inputs."""
    rng = np.random.default_rng(11)
    net = random_network(rng, n=N, n_in=M, n_out=2)
    inputs = rng.normal(0, 1, (2, 150, M))
    return compile_network(net, "dynapse1", inputs), compile_network(net, "dynapse1", inputs, replicas=2), inputs


def copy_ids(plain, spec) -> tuple[np.ndarray, np.ndarray]:
    """Chip neurons of copy 0 and, neuron for neuron, of copy 1 (the next slots of each core)."""
    first = np.flatnonzero(plain.config.enabled)
    per_core = np.bincount(spec.core_of(first), minlength=spec.cores)
    return first, first + per_core[spec.core_of(first)]


def test_each_copy_holds_the_plain_cam_on_its_own_neurons(pair):
    plain, double, _ = pair
    spec = plain.config.spec
    first, second = copy_ids(plain, spec)
    assert double.report["replicas"] == 2 and plain.report["replicas"] == 1
    np.testing.assert_array_equal(np.flatnonzero(double.config.enabled), np.sort(np.r_[first, second]))
    assert np.array_equal(spec.core_of(first), spec.core_of(second))  # same cores, so the same biases
    for name in ("dmem", "theta", "idc", "t_ref", "dsyn", "wsyn"):
        np.testing.assert_array_equal(getattr(double.config, name), getattr(plain.config, name))
    np.testing.assert_array_equal(double.config.cam_source[first], plain.config.cam_source[first])
    moved = np.full(spec.n_sources, -2)
    moved[:spec.inputs] = np.arange(spec.inputs)        # input channels are shared
    moved[spec.inputs + first] = spec.inputs + second   # copy 0's neurons become copy 1's
    source = plain.config.cam_source[first]
    expected = np.where(source == EMPTY, EMPTY, moved[np.where(source == EMPTY, 0, source)])
    assert (expected != -2).all()
    np.testing.assert_array_equal(double.config.cam_source[second], expected)
    np.testing.assert_array_equal(double.config.cam_type[second], plain.config.cam_type[first])
    for own, other in ((first, second), (second, first)):  # no synapse between copies
        assert not np.isin(double.config.cam_source[own], spec.inputs + other).any()
    assert (double.config.cam_source[second] < spec.inputs).any()  # every copy is fed the inputs
    assert len(double.decoder.neurons) == 2 * len(plain.decoder.neurons)
    np.testing.assert_allclose(double.decoder.w_out, np.vstack([plain.decoder.w_out] * 2) / 2)


def test_copies_spike_alike_on_the_nominal_chip_and_apart_under_mismatch(pair):
    plain, double, inputs = pair
    first, second = copy_ids(plain, plain.config.spec)
    encoded = double.encoder.encode(inputs)
    nominal = BatchedChips(double.config, [0, 0], mismatch=0, backend="numpy").run(encoded).spikes
    assert nominal[..., first].sum() > 20
    np.testing.assert_array_equal(nominal[..., first], nominal[..., second])
    alone = BatchedChips(plain.config, [0, 0], mismatch=0, backend="numpy").run(encoded).spikes
    np.testing.assert_array_equal(nominal[..., first], alone[..., first])
    chip = BatchedChips(double.config, [3, 3], mismatch="spec", backend="numpy").run(encoded).spikes
    assert not np.array_equal(chip[..., first], chip[..., second])


def test_a_replicated_configuration_loads_on_a_board_and_runs_as_on_the_emulator(pair):
    """Over the wire (drivers.payloads) like any configuration; emulator ≡ batched simulator
    with replicas: tests/test_compiler.py."""
    _, double, inputs = pair
    encoded = double.encoder.encode(inputs)[0]
    with BackgroundServer(BoardServer("dynapse1", 5), TcpEndpoint("127.0.0.1", 0)) as server:
        with open_chip(server.url) as board:
            board.load(double.config)
            reference = EmulatorChip("dynapse1", 5, "spec")
            reference.load(double.config)
            result = board.run(encoded, noise_amplitude=200, noise_seed=7)
            assert result.spikes.any()
            assert_same_result(result, reference.run(encoded, noise_amplitude=200, noise_seed=7))


def test_replicas_that_do_not_fit_or_are_not_counts_are_one_line_errors():
    rng = np.random.default_rng(12)
    net = random_network(rng, n=N, n_in=M)
    # 14 neurons on 4 cores: at most 4 on one core, 256 per core -> 64 copies fit
    with pytest.raises(CompileError, match=r"^65 replicas of the 14-neuron network need 260 neurons on a core "
                                           r"\(4 per copy\); spec dynapse1 has 256 per core, so at most 64 "
                                           r"replicas fit$"):
        compile_network(net, "dynapse1", replicas=65)
    with pytest.raises(CompileError, match="replicas must be an integer >= 1, got 0"):
        compile_network(net, "dynapse1", replicas=0)
    assert config_from_dict({"replicas": 3}).replicas == 3
    with pytest.raises(RunConfigError, match=r"field 'replicas' must be an integer >= 1"):
        config_from_dict({"replicas": 0})
    with pytest.raises(RunConfigError, match=r"field 'replicas' must be an integer >= 1"):
        config_from_dict({"replicas": "3"})


def test_harness_compile_places_replicas_and_names_the_limit(tmp_path):
    net = random_network(np.random.default_rng(0), n=24, n_in=1)
    net.meta.update(task="xor", task_meta={"seed": 0, "n_steps": 500}, method="test")
    path = save_network(net, tmp_path / "net.npz")
    args = ["compile", str(path), "--chips", "0", "--samples", "4", "--backend", "numpy", "-o"]
    result = CliRunner().invoke(main, [*args, str(tmp_path / "c.npz"), "--replicas", "3"])
    assert result.exit_code == 0, result.output
    assert "placed as 3 replicas: 72 chip neurons" in result.output
    compiled = CompiledNetwork.load(tmp_path / "c.npz")
    assert compiled.report["replicas"] == 3 and compiled.config.enabled.sum() == 72
    result = CliRunner().invoke(main, [*args, str(tmp_path / "d.npz"), "--replicas", "43"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "at most 42 replicas fit" in result.output


def test_the_runs_networks_table_shows_the_replicas(pair, tmp_path):
    _, double, _ = pair
    run = RunDir(tmp_path)
    write_json(run.manifest_path, {"networks": ["xor-test-dynapse1"]})
    double.save(run.subdir("compiled") / "xor-test-dynapse1.npz")
    row = next(line for line in _networks(run) if line.startswith("| xor-test-dynapse1 "))
    assert f"| {N} × 2 replicas |" in row


def test_a_runs_weight_bits_variant_keeps_the_replicas(tmp_path):
    task = make_xor(0, n_train=8, n_val=4, n_test=8, n_steps=500)
    net = random_network(np.random.default_rng(1), n=N, n_in=1)
    net.meta.update(task="xor", task_meta={"seed": 0, "n_steps": 500}, method="test")
    spec = load_spec("dynapse1")
    compiled = compile_for_chip(net, spec, task, backend="numpy", replicas=2)
    assert compiled.report["replicas"] == 2 and compiled.report["readout_refit"]["chip"] == "nominal"
    deployment = Deployment("xor-test-dynapse1", task, net, spec, compiled, RunDir(tmp_path))
    variant = deployment.with_weight_bits(4)
    assert variant.report["replicas"] == 2 and variant.config.enabled.sum() == 2 * N
