"""Network ADS at tiny size: its training loop agrees with sim.lif, and it learns."""
from contextlib import nullcontext
from dataclasses import asdict

import numpy as np
import pytest

from sim import kernels
from sim.ads import ads_config, init_ads, latent_nmse, to_network, train_ads, train_step
from sim.lif import lif_params, simulate
from sim.tasks.xor import make_xor
from sim.teacher import predict, teacher_config, train_teacher


@pytest.fixture(scope="module")
def setup():
    task = make_xor(seed=2, n_train=64, n_val=16, n_test=32, n_steps=600)
    teacher = train_teacher(task, teacher_config("xor", n_hidden=16, epochs=12, batch_size=16, lr=2e-2), seed=0)
    return task, teacher


def test_training_loop_without_feedback_matches_lif_simulate(setup):
    task, teacher = setup
    config = ads_config("xor", n_neurons=96)
    host = init_ads(teacher, config, seed=0)
    host.w_slow = np.random.default_rng(0).normal(0, 0.05, host.w_slow.shape)
    np.fill_diagonal(host.w_slow, 0.0)
    latent, _ = predict(teacher, task.val)
    weights = {k: np.asarray(v, np.float32) for k, v in asdict(host).items()}
    mine = train_step(weights, task.val.inputs, latent, config, k=0.0, eta=0.0, xp=np)
    net = to_network(host, config, host.decoder)
    x_hat = simulate(lif_params(net), task.val.inputs).outputs[0]
    ref = ((latent - x_hat)[:, ::10] ** 2).sum() / (latent[:, ::10] ** 2).sum()
    assert mine == pytest.approx(float(ref), rel=1e-3)


def test_fused_training_step_matches_the_array_code(setup):
    """sim.kernels.ads_run (the NumPy default, W_slow kept factorised while it learns) against
    the array code CuPy runs, in float64: same error, same learnt W_slow."""
    task, teacher = setup
    config = ads_config("xor", n_neurons=64)
    host = init_ads(teacher, config, seed=0)
    latent, _ = predict(teacher, task.train)
    results = []
    for fused in (True, False):
        weights = {k: np.asarray(v, np.float64) for k, v in asdict(host).items()}
        with nullcontext() if fused else kernels.disabled():
            errs = [train_step(weights, task.train.inputs[i:i + 8], latent[i:i + 8], config, k=100.0, eta=4.0, xp=np)
                    for i in (0, 8)]
        results.append((errs, weights["w_slow"]))
    (fused_errs, fused_w), (array_errs, array_w) = results
    assert np.abs(array_w).max() > 0.01 and np.all(np.diag(fused_w) == 0)
    np.testing.assert_allclose(fused_errs, array_errs, rtol=1e-6)
    np.testing.assert_allclose(fused_w, array_w, rtol=0, atol=1e-6 * np.abs(array_w).max())


def test_ads_learns_teacher_latent(setup):
    task, teacher = setup
    config = ads_config("xor", n_neurons=160, epochs=3, batch_size=16, readout="decoder")
    net, metrics = train_ads(teacher, task, config, seed=0)
    assert np.all(np.diag(net.w_slow) == 0) and np.abs(net.w_slow).max() > 0
    assert np.allclose(net.w_out, init_ads(teacher, config, 0).decoder @ teacher.w_out)
    untrained = init_ads(teacher, config, 0)
    latent, _ = predict(teacher, task.test)
    before, _ = latent_nmse(to_network(untrained, config, net.w_out), untrained.decoder, task.test, latent)
    assert metrics["latent_nmse_test"] < 0.8 * before
    assert net.meta["readout"] == "decoder@teacher"


def test_ridge_readout_is_fitted_on_the_spikes_and_judged_on_the_test_split(setup):
    task, teacher = setup
    config = ads_config("xor", n_neurons=160, epochs=1, batch_size=16)
    assert config.readout == "ridge"
    net, metrics = train_ads(teacher, task, config, seed=0)
    assert net.meta["readout"] == "ridge on filtered spikes"
    assert not np.allclose(net.w_out, init_ads(teacher, config, 0).decoder @ teacher.w_out)
    assert metrics["readout_ridge"] > 0
    outputs = simulate(lif_params(net), task.test.inputs).outputs[0]
    assert metrics["ads_test_accuracy"] == pytest.approx(float(task.accuracy(outputs, task.test)))


def test_unknown_readout_is_rejected():
    with pytest.raises(ValueError, match="readout 'magic'"):
        ads_config("xor", readout="magic")
