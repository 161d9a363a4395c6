"""The float model of a compiled network (harness.compiler.float_model)."""
import numpy as np

from harness.compiler import compile_network, map_network
from harness.compiler.float_model import compiled_float, realised_network
from harness.compiler.weights import MATRICES
from sim.chip.batched import BatchedChips
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from sim.perturb import ChipDraw, ChipMismatch, apply_chip_mismatch
from tests.networks import random_network


def signed_inputs(rng, n_in: int) -> np.ndarray:
    return rng.uniform(-1, 1, (4, 50, n_in))


def test_without_a_fan_in_limit_the_model_is_the_float_network():
    rng = np.random.default_rng(0)
    net = random_network(rng, n=12, n_in=2)
    model = compiled_float(net, "dense1k", signed_inputs(rng, 2))
    for name in ("w_fast", "w_slow", "w_in"):
        float_w, realised = getattr(net, name), getattr(model.net, name)
        assert np.all(np.sign(realised) * np.sign(float_w) >= 0), name
        assert np.abs(realised - float_w).sum() < 0.1 * np.abs(float_w).sum(), name
    assert np.abs(model.w_in_neg - net.w_in).sum() < 0.1 * np.abs(net.w_in).sum()
    drive = net.v_rest - net.v_reset + net.bias
    np.testing.assert_allclose(model.net.v_rest - model.net.v_reset + model.net.bias, drive, rtol=0.05)
    np.testing.assert_array_equal(model.net.w_out, net.w_out)


def test_pruned_synapses_are_zero_and_each_neuron_fits_its_cam():
    rng = np.random.default_rng(1)
    net = random_network(rng, n=100, n_in=2)
    inputs = signed_inputs(rng, 2)
    mapping = map_network(net, "dynapse1", inputs)
    model = realised_network(net, mapping)
    kept = (model.net.w_fast != 0).sum(0) + (model.net.w_slow != 0).sum(0) + (model.net.w_in != 0).sum(0)
    assert kept.max() <= mapping.config.spec.fan_in
    assert (model.net.w_fast != 0).sum() < 0.5 * (net.w_fast != 0).sum()  # the limit bites
    for name in ("w_fast", "w_slow"):
        assert np.all(np.sign(getattr(model.net, name)) * np.sign(getattr(net, name)) >= 0)
    syn = mapping.synapses
    rows = syn.matrix == MATRICES.index("w_slow")
    realised = syn.realised_weight(mapping.wsyn, mapping.config.spec.core_of(syn.target))[rows]
    assert np.isclose(np.abs(model.net.w_slow).sum(), np.abs(realised).sum())
    assert np.array_equal(model.chip_id, mapping.chip_id)


def test_chip_mismatch_scales_separate_negative_input_weights_with_their_own_gains():
    rng = np.random.default_rng(2)
    net = random_network(rng, n=6, n_in=2)
    w_neg = 0.5 * net.w_in
    draw = ChipDraw.sample(ChipMismatch(0.2), 6, 1, np.random.default_rng(3), np, np.float64)
    plain = lif_params(net, "numpy", dtype=np.float64)
    apply_chip_mismatch(plain, draw, np)
    split = lif_params(net, "numpy", dtype=np.float64)
    split.w_in_neg = w_neg[None]
    apply_chip_mismatch(split, draw, np)
    np.testing.assert_allclose(split.w_in, plain.w_in)
    np.testing.assert_allclose(split.w_in_neg, 0.5 * plain.w_in_neg)


def test_each_synapse_type_decays_with_its_own_dsyn_as_on_the_chip():
    """Neuron A fires every ~48 steps; C follows through one NMDA synapse, near threshold.
    With dsyn mismatch only, C's count varies from chip to chip with its NMDA decay; the
    float model of the compiled network, fed each chip's own numbers, predicts it within one
    spike on every chip when each type keeps its own τ (`per_type_tau`), and not with one τ
    per class (NMDA and GABA_B averaged, though C has no GABA_B input)."""
    a, c, steps, seeds = 0, 1, 1000, list(range(32))
    mismatch = ChipMismatch({"dsyn": 0.3}, "dense1k")
    w_slow = np.zeros((2, 2))
    w_slow[a, c] = 30.0
    net = SpikingNetwork(tau_mem=np.array([20.0, 5.0]), tau_fast=np.ones(2), tau_slow=np.full(2, 40.0),
                         v_th=np.ones(2), v_rest=np.zeros(2), bias=np.array([1.1, 0.3]), w_in=np.zeros((1, 2)),
                         w_fast=np.zeros((2, 2)), w_slow=w_slow, w_out=np.ones((2, 1)))
    compiled = compile_network(net, "dense1k")
    model = compiled_float(net, "dense1k")
    silent = np.zeros((steps, compiled.config.spec.inputs), np.uint8)
    chip = BatchedChips(compiled.config, seeds, mismatch.level, "numpy").run(silent, neurons=model.chip_id)
    chip = chip.spikes.sum(1)[:, c]
    assert chip.max() - chip.min() > 50  # the decay matters
    predicted = {}
    for per_type in (True, False):
        params = lif_params(model.net, "numpy", draws=len(seeds), dtype=np.float64)
        params.w_in_neg = np.repeat(model.w_in_neg[None], len(seeds), axis=0)
        draw = ChipDraw.of_chips(mismatch, seeds, model.chip_id, np, np.float64)
        apply_chip_mismatch(params, draw, np, per_type_tau=per_type)
        predicted[per_type] = simulate(params, np.zeros((1, steps, 1))).spike_count[:, 0, c]
    assert np.abs(predicted[True] - chip).max() <= 1  # up to the chip's integer rounding
    assert np.abs(predicted[False] - chip).mean() > 2
