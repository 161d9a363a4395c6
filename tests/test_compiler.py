"""The compiler: mapping, limits, file format, and bit-exact agreement of the targets."""
import numpy as np
import pytest

from drivers.emulator import EmulatorChip
from harness.compiler import CompiledNetwork, CompileError, compile_network
from harness.compiler.encoding import Encoder
from sim.chip.batched import BatchedChips
from sim.chip.config import ChipConfig
from sim.chip.spec import load_spec
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from tests.networks import random_network


def feedforward(rng, n=24, n_in=2) -> SpikingNetwork:
    """No recurrence, per-neuron thresholds, rests, resets and biases: tests the scaling."""
    return SpikingNetwork(
        tau_mem=np.full(n, 20.0), tau_fast=np.ones(n), tau_slow=np.full(n, 70.0),
        v_th=rng.uniform(0.8, 1.2, n), v_rest=np.full(n, 0.3), bias=rng.uniform(0.5, 0.9, n),
        w_in=rng.normal(0, 1.0, (n_in, n)), w_fast=np.zeros((n, n)), w_slow=np.zeros((n, n)),
        w_out=rng.normal(0, 1, (n, 1)), v_reset=-0.2, tau_out=70.0)


def test_compiled_config_is_valid_and_respects_fan_in():
    rng = np.random.default_rng(0)
    net = random_network(rng, n=40, n_in=2)
    inputs = rng.normal(0, 1, (4, 200, 2))
    for spec in ("dynapse1", "dense1k"):
        compiled = compile_network(net, spec, inputs)
        config = compiled.config.validate()
        assert (config.cam_source != -1).sum(1).max() <= config.spec.fan_in
        assert config.enabled.sum() == net.n_neurons
        assert compiled.report["fan_in"]["max"] <= config.spec.fan_in
        assert set(compiled.report["matrices"]) >= {"w_in", "w_fast", "w_slow"}
    dense = compile_network(net, "dense1k", inputs).report["matrices"]
    sparse = compile_network(net, "dynapse1", inputs).report["matrices"]
    assert dense["w_slow"]["quantisation_error"] < sparse["w_slow"]["quantisation_error"]


def test_weight_bits_caps_connection_counts():
    rng = np.random.default_rng(1)
    compiled = compile_network(random_network(rng, n=16), "dense1k", weight_bits=3)
    assert compiled.config.weight_counts().max() <= 3


def test_chip_rates_follow_the_float_network():
    """Thresholds, resets, resting levels, biases and input encoding map to the same rates."""
    rng = np.random.default_rng(2)
    net = feedforward(rng)
    steps = np.linspace(0, 2 * np.pi, 400)
    inputs = np.stack([np.stack([np.sin(steps * (1 + i)), 0.5 * np.cos(steps)], -1) for i in range(3)])
    compiled = compile_network(net, "dense1k", inputs)
    float_counts = np.asarray(simulate(lif_params(net, "numpy", dtype=np.float64), inputs).spike_count)[0]
    encoded = compiled.encoder.encode(inputs)
    chip_ids = compiled.decoder.neurons  # every neuron has a readout weight here
    chip_counts = BatchedChips(compiled.config, [0] * 3, mismatch=0, backend="numpy").run(
        encoded, neurons=chip_ids).spikes.sum(1)
    assert float_counts.sum() > 100
    np.testing.assert_allclose(chip_counts, float_counts, atol=2, rtol=0.05)


@pytest.mark.parametrize("replicas", [1, 2])
def test_emulator_and_batched_agree_bit_for_bit_on_a_compiled_config(replicas):
    rng = np.random.default_rng(3)
    net = random_network(rng, n=30, n_in=2)
    inputs = rng.normal(0, 1, (2, 120, 2))
    compiled = compile_network(net, "dynapse1", inputs, replicas=replicas)
    assert compiled.config.enabled.sum() == replicas * net.n_neurons
    encoded = compiled.encoder.encode(inputs)
    seeds = [5, 6]
    batched = BatchedChips(compiled.config, seeds, mismatch="spec", backend="numpy").run(
        encoded, noise_amplitude=200, noise_seeds=[7, 8], record_state=True)
    assert batched.spikes.any()
    for b, seed in enumerate(seeds):
        chip = EmulatorChip("dynapse1", seed, "spec")
        chip.load(compiled.config)
        run = chip.run(encoded[b], noise_amplitude=200, noise_seed=7 + b, record_state=True)
        np.testing.assert_array_equal(run.spikes, batched.spikes[b])
        np.testing.assert_array_equal(run.v, batched.v[b])
        np.testing.assert_array_equal(run.isyn, batched.isyn[b])


def test_encoder_sigma_delta_keeps_the_integral_and_splits_signs():
    spec = load_spec("dynapse1")
    x = np.random.default_rng(4).normal(0, 1, (3, 300, 2))
    encoder = Encoder.fit(2, spec, x, bias=True)
    counts = encoder.encode(x).astype(float)
    rates = encoder.rates(x)
    assert counts.max() <= 15 and counts.shape == (3, 300, 64)
    assert np.abs(np.cumsum(counts - rates, axis=1)).max() <= 1.0 + 1e-6
    assert counts[..., encoder.positive].sum() > 0 and counts[..., encoder.negative].sum() > 0
    assert counts[..., encoder.bias_channel].sum(1).tolist() == [300.0] * 3
    unsigned = Encoder.fit(2, spec, np.abs(x), bias=False)
    assert (unsigned.negative == -1).all() and unsigned.bias_channel == -1


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    net = random_network(rng, n=12)
    net.meta.update(task="xor", method="test")
    compiled = compile_network(net, "dynapse1", rng.normal(0, 1, (2, 50, 2)))
    path = compiled.save(tmp_path / "net.npz")
    loaded = CompiledNetwork.load(path)
    assert loaded.task == "xor" and loaded.report["spec"] == "dynapse1"
    np.testing.assert_array_equal(loaded.config.cam_source, compiled.config.cam_source)
    np.testing.assert_array_equal(loaded.decoder.w_out, compiled.decoder.w_out)
    np.testing.assert_array_equal(loaded.encoder.scale, compiled.encoder.scale)
    assert ChipConfig.load(path).spec.name == "dynapse1"  # also a plain configuration
    ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "plain.npz")
    with pytest.raises(CompileError, match="not a compiled network"):
        CompiledNetwork.load(tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CompileError, match="junk.npz"):
        CompiledNetwork.load(tmp_path / "junk.npz")


def test_networks_that_do_not_fit_give_errors_naming_the_limit():
    rng = np.random.default_rng(6)
    with pytest.raises(CompileError, match=r"1100 neurons.*only 1024"):
        compile_network(random_network(rng, n=1100), "dynapse1")
    with pytest.raises(CompileError, match=r"40 inputs.*need 81 input channels, spec dynapse1 has 64"):
        compile_network(random_network(rng, n=8, n_in=40), "dynapse1")
    net = random_network(rng, n=8)
    with pytest.raises(CompileError, match="v_th"):
        compile_network(net.replace(v_reset=2.0), "dynapse1")
    with pytest.raises(CompileError, match="weight_bits"):
        compile_network(net, "dynapse1", weight_bits=1)
