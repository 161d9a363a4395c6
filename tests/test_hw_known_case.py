"""A chip-level known case for the chip-faithful mismatch model (sim.perturb.ChipDraw).

Neuron C receives equal excitatory (NMDA, from A) and inhibitory (GABA_B, from B) slow
input from two identical, regularly firing neurons; its own drive stays below threshold.
The two currents cancel when C's NMDA and GABA_B gains are equal (a shared draw), and
not when they are drawn independently, as vc1 does: C then fires on the chips where its
NMDA gain exceeds its GABA_B gain. The float model, fed each chip's own random numbers,
must say which chips those are.
"""
import numpy as np
import pytest

from harness.compiler import compile_network
from sim.chip.batched import BatchedChips
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from sim.perturb import ChipDraw, ChipMismatch, apply_chip_mismatch

A, B, C = 0, 1, 2
STEPS = 1000
SEEDS = range(32)
SLOW_ONLY = ChipMismatch({"wsyn_slow": 0.2}, "dense1k")  # A and B stay identical: only C's slow gains vary


def cancelling_network(w: float = 60.0) -> SpikingNetwork:
    n = 3
    w_slow = np.zeros((n, n))
    w_slow[A, C], w_slow[B, C] = w, -w
    return SpikingNetwork(tau_mem=np.full(n, 20.0), tau_fast=np.ones(n), tau_slow=np.full(n, 50.0),
                          v_th=np.ones(n), v_rest=np.zeros(n), bias=np.array([1.5, 1.5, 0.9]),
                          w_in=np.zeros((1, n)), w_fast=np.zeros((n, n)), w_slow=w_slow, w_out=np.ones((n, 1)))


def float_counts(net: SpikingNetwork, draw: ChipDraw) -> np.ndarray:
    """Spikes of A, B and C over STEPS [draws, 3] with every draw realised as its chip."""
    params = lif_params(net, "numpy", draws=draw.dmem.shape[0], dtype=np.float64)
    apply_chip_mismatch(params, draw, np)
    return simulate(params, np.zeros((1, STEPS, 1))).spike_count[:, 0]


@pytest.fixture(scope="module")
def case():
    net = cancelling_network()
    compiled = compile_network(net, "dense1k")
    neurons = compiled.decoder.neurons  # chip neurons of A, B, C (w_out reads all three)
    chips = BatchedChips(compiled.config, list(SEEDS), SLOW_ONLY.level, "numpy")
    chip = chips.run(np.zeros((STEPS, compiled.config.spec.inputs), np.uint8), neurons=neurons).spikes.sum(1)
    draw = ChipDraw.of_chips(SLOW_ONLY, list(SEEDS), neurons, np, np.float64)
    return net, compiled, neurons, chip, draw


def test_nominal_chip_and_float_network_cancel(case):
    net, compiled, neurons, _, _ = case
    nominal = BatchedChips(compiled.config, [0], 0, "numpy").run(
        np.zeros((STEPS, compiled.config.spec.inputs), np.uint8), neurons=neurons).spikes.sum(1)[0]
    assert nominal[A] == nominal[B] > 20 and nominal[C] == 0
    counts = simulate(lif_params(net, "numpy", dtype=np.float64), np.zeros((1, STEPS, 1))).spike_count[0, 0]
    assert counts[A] == counts[B] > 20 and counts[C] == 0


def test_independent_gains_break_the_cancellation_where_the_model_says(case):
    net, _, _, chip, draw = case
    predicted = float_counts(net, draw)
    assert np.all(chip[:, A] == chip[:, B])
    excess = draw.wsyn[1, :, 0, C] - draw.wsyn[3, :, 0, C]  # C's NMDA minus GABA_B gain on each chip
    assert (chip[:, C] > 0).sum() >= 4 and (chip[:, C] == 0).sum() >= 4  # both outcomes occur
    np.testing.assert_array_equal(chip[:, C] > 0, predicted[:, C] > 0)
    assert np.abs(chip[:, C] - predicted[:, C]).max() <= 1  # up to the chip's integer rounding
    clear = np.abs(excess) > 0.05  # C's drive is 0.1 below threshold: a small excess is not enough
    np.testing.assert_array_equal(chip[clear, C] > 0, excess[clear] > 0)


def test_shared_gains_cancel_on_every_chip(case):
    net, _, _, _, draw = case
    draw.wsyn[3] = draw.wsyn[1]  # C's GABA_B gain takes its NMDA draw
    assert np.all(float_counts(net, draw)[:, C] == 0)
