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
