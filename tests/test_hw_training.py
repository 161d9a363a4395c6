"""Hardware-aware training: networks run on sampled chips (sim.perturb.ChipDraw) while they learn."""
from dataclasses import asdict

import numpy as np
import pytest

from sim.ads import ads_config, init_ads, to_network, train_step
from sim.backend import get_backend
from sim.baselines.bptt_lif import TRAINED, Fixed, Spike, loss_and_grad_arrays
from sim.lif import lif_params, simulate
from sim.methods import train
from sim.perturb import ChipDraw, ChipMismatch, apply_chip_mismatch
from sim.tasks.xor import make_xor, xor_dataset
from sim.teacher import predict, teacher_config, train_teacher
from tests.test_baselines import assert_gradients_match, tiny_net, tiny_xor


def draw(level, n, seed=1, dtype=np.float64):
    return ChipDraw.sample(ChipMismatch(level), n, 1, np.random.default_rng(seed), np, dtype)


def test_bptt_gradient_on_a_chip_matches_finite_differences():
    rng = np.random.default_rng(0)
    data = xor_dataset(4, rng, n_steps=90, pulse_ms=5)
    net = tiny_net(rng)
    spike, chip = Spike(beta=3.0, smooth=True), draw(0.3, net.n_neurons).single()

    def loss_and_grad(candidate):
        params = {name: getattr(candidate, name) for name in TRAINED}
        return loss_and_grad_arrays(params, Fixed.of(candidate, get_backend("numpy"), np.float64), data.inputs,
                                    data.targets, data.mask, spike, np, chip)

    loss, _ = loss_and_grad(net)
    assert loss != pytest.approx(loss_and_grad_arrays({k: getattr(net, k) for k in TRAINED},
                                                      Fixed.of(net, get_backend("numpy"), np.float64), data.inputs,
                                                      data.targets, data.mask, spike, np)[0])
    assert_gradients_match(loss_and_grad, net)


@pytest.fixture(scope="module")
def ads_setup():
    task = make_xor(seed=2, n_train=32, n_val=16, n_test=16, n_steps=600)
    teacher = train_teacher(task, teacher_config("xor", n_hidden=16, epochs=6, batch_size=16, lr=2e-2), seed=0)
    config = ads_config("xor", n_neurons=64)
    host = init_ads(teacher, config, seed=0)
    host.w_slow = np.random.default_rng(0).normal(0, 0.5, host.w_slow.shape)
    np.fill_diagonal(host.w_slow, 0.0)
    latent, _ = predict(teacher, task.val)
    return task, config, host, latent


def test_ads_training_loop_on_a_chip_is_the_chip_model(ads_setup):
    task, config, host, latent = ads_setup
    chip = draw("spec", config.n_neurons, dtype=np.float32)
    weights = {k: np.asarray(v, np.float32) for k, v in asdict(host).items()}
    mine = train_step(weights, task.val.inputs, latent, config, k=0.0, eta=0.0, xp=np, chip=chip)
    params = lif_params(to_network(host, config, host.decoder))
    apply_chip_mismatch(params, chip, np)
    x_hat = simulate(params, task.val.inputs).outputs[0]
    ref = ((latent - x_hat)[:, ::10] ** 2).sum() / (latent[:, ::10] ** 2).sum()
    assert mine == pytest.approx(float(ref), rel=1e-3)
    nominal = train_step(dict(weights), task.val.inputs, latent, config, k=0.0, eta=0.0, xp=np)
    assert abs(mine - nominal) > 1e-3 * nominal


def test_ads_training_loop_on_a_zero_mismatch_chip_is_nominal(ads_setup):
    task, config, host, latent = ads_setup
    runs = []
    for chip in (None, draw(0.0, config.n_neurons, dtype=np.float32)):
        weights = {k: np.asarray(v, np.float32) for k, v in asdict(host).items()}
        runs.append((train_step(weights, task.val.inputs, latent, config, k=50.0, eta=1.0, xp=np, chip=chip),
                     weights["w_slow"]))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_hardware_aware_option_is_recorded_and_checked():
    task = tiny_xor(sizes=(64, 32, 32))
    aware, nominal = [], []
    net = train("bptt", task, n_neurons=40, epochs=1, seed=0, backend="numpy", hardware_aware=0.2,
                progress=aware.append)
    assert net.meta["hardware_aware"] == 0.2 and net.meta["hyper"]["hardware_aware"] == 0.2
    plain = train("bptt", task, n_neurons=40, epochs=1, seed=0, backend="numpy", progress=nominal.append)
    assert plain.meta["hardware_aware"] is None
    assert aware[0]["loss"] != nominal[0]["loss"]  # the minibatches ran on sampled chips
    with pytest.raises(ValueError, match="hardware-aware training is implemented for ads, bptt"):
        train("force", task, n_neurons=40, seed=0, backend="numpy", hardware_aware="spec")
    with pytest.raises(ValueError, match="mismatch level"):
        train("bptt", task, n_neurons=40, seed=0, backend="numpy", hardware_aware="lots")


def test_worst_weights_are_mean_plus_cvar():
    from sim.baselines.bptt_lif import worst_weights
    losses = np.array([1.0, 4.0, 2.0, 3.0])
    np.testing.assert_allclose(worst_weights(losses, 0.0, 1.0), [0.25] * 4)
    np.testing.assert_allclose(worst_weights(losses, 0.5, 1.0), [0.25, 0.75, 0.25, 0.75])  # worst 2 of 4
    np.testing.assert_allclose(worst_weights(losses, 0.25, 2.0) @ losses, losses.mean() + 2 * 4.0)


def test_strongest_inputs_keep_each_neurons_largest_weights():
    from sim.baselines.bptt_lif import strongest_inputs
    w = np.array([[0.0, 3.0], [-5.0, 0.0], [1.0, -2.0], [2.0, 1.0]])
    mask = strongest_inputs(w, 2)
    np.testing.assert_array_equal(mask, [[False, True], [True, False], [False, True], [True, False]])
    assert not strongest_inputs(np.zeros((3, 3)), 2).any()  # zeros are never kept


def test_window_rates_on_unmismatched_chips_are_the_nominal_rates():
    from sim.baselines.common import window_rates
    rng = np.random.default_rng(0)
    data = xor_dataset(4, rng, n_steps=90, pulse_ms=5)
    net = tiny_net(rng)
    nominal = window_rates(net, data)
    chips = ChipDraw.sample(ChipMismatch(0.0), net.n_neurons, 3, rng, np)
    np.testing.assert_allclose(window_rates(net, data, chips=chips), np.tile(nominal, (3, 1)), rtol=1e-6)
    varied = window_rates(net, data, chips=ChipDraw.sample(ChipMismatch(0.3), net.n_neurons, 2, rng, np))
    assert varied.shape == (8, net.n_neurons) and not np.allclose(varied[:4], varied[4:])


def test_bptt_on_k_chips_within_the_fan_in():
    task = tiny_xor(sizes=(32, 16, 16))
    net = train("bptt", task, n_neurons=40, epochs=2, seed=0, backend="numpy", hardware_aware="spec",
                chips=4, worst=0.25, fan_in=3, lr=1e-2)
    assert (net.w_slow != 0).sum(0).max() <= 3
    hyper = net.meta["hyper"]
    assert (hyper["chips"], hyper["worst"], hyper["fan_in"], hyper["lr"]) == (4, 0.25, 3, 1e-2)
    assert np.all(np.isfinite(net.w_out)) and np.any(net.w_out != 0)


def test_bptt_chip_options_are_checked():
    from sim.baselines.bptt_lif import train_bptt_lif
    task = tiny_xor(sizes=(4, 4, 4))
    with pytest.raises(ValueError, match="hardware_aware"):
        train_bptt_lif(task, chips=4)
    with pytest.raises(ValueError, match="worst"):
        train_bptt_lif(task, hardware_aware="spec", chips=4, worst=1.5)
    with pytest.raises(ValueError, match="fan_in"):
        train_bptt_lif(task, fan_in=-1)
    with pytest.raises(ValueError, match="lr"):
        train_bptt_lif(task, lr=0.0)
    with pytest.raises(ValueError, match="tau_syn"):
        train_bptt_lif(task, tau_syn=0.5)


def test_bptt_with_weight_bits_returns_quantised_weights():
    task = tiny_xor(sizes=(32, 16, 16))
    net = train("bptt", task, n_neurons=30, epochs=1, seed=0, backend="numpy", weight_bits=3, lr=1e-2)
    for w in (net.w_in, net.w_slow):  # at most 2·3 + 1 levels: sign × 0..3 steps of one scale
        levels = np.unique(np.round(w / (np.abs(w).max() / 3), 6))
        assert set(levels) <= {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}, levels
    assert net.meta["hyper"]["weight_bits"] == 3
    with pytest.raises(ValueError, match="weight_bits"):
        train("bptt", task, n_neurons=30, epochs=1, weight_bits=1)
