"""Training on CuPy gives what the NumPy array code gives: the teacher's gradient, the float
LIF simulation and one ADS trial, in float64 (run by bench/device_check.sh on a GPU)."""
from dataclasses import asdict

import numpy as np
import pytest

from sim import kernels
from sim.ads import ads_config, init_ads, train_step
from sim.backend import cupy_available, get_backend
from sim.lif import lif_params, simulate
from sim.teacher import init_teacher, loss_and_grads
from tests.networks import random_network

pytestmark = pytest.mark.skipif(not cupy_available(), reason="no GPU/CuPy")


@pytest.fixture(scope="module")
def gpu():
    return get_backend("cupy")


def test_teacher_gradient_on_cupy_equals_numpy(gpu):
    teacher = init_teacher(3, 16, 1, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 60, 3)), rng.normal(size=(4, 60, 1))
    mask = rng.random((4, 60)) < 0.5
    params = {k: np.asarray(v, np.float64) for k, v in teacher.arrays().items()}
    tau = np.asarray(teacher.tau, np.float64)
    loss, grads = loss_and_grads(params, tau, x, y, mask, np)
    put = gpu.xp.asarray
    gpu_loss, gpu_grads = loss_and_grads({k: put(v) for k, v in params.items()}, put(tau), put(x), put(y), put(mask),
                                         gpu.xp)
    assert float(gpu_loss) == pytest.approx(loss, rel=1e-10)
    for name, grad in grads.items():
        np.testing.assert_allclose(gpu.to_numpy(gpu_grads[name]), grad, rtol=1e-8, atol=1e-12, err_msg=name)


def test_lif_simulation_on_cupy_equals_numpy(gpu):
    rng = np.random.default_rng(1)
    net = random_network(rng, n=24, n_out=2)
    x = rng.normal(0, 1, (3, 120, 2))
    with kernels.disabled():
        ref, ref_raster = simulate(lif_params(net, "numpy", draws=2, dtype=np.float64), x, record_spikes=True)
    out, raster = simulate(lif_params(net, gpu, draws=2, dtype=np.float64), gpu.xp.asarray(x), gpu, record_spikes=True)
    assert ref_raster.sum() > 0
    np.testing.assert_array_equal(gpu.to_numpy(raster), ref_raster)
    np.testing.assert_allclose(gpu.to_numpy(out.outputs), ref.outputs, rtol=1e-9, atol=1e-12)


def test_an_ads_trial_on_cupy_equals_numpy(gpu):
    config = ads_config("xor", n_neurons=48)
    host = init_ads(init_teacher(1, 8, 1, seed=0), config, seed=0)
    rng = np.random.default_rng(2)
    x, latent = rng.normal(size=(4, 200, 1)), rng.normal(size=(4, 200, 8))
    weights = {k: np.asarray(v, np.float64) for k, v in asdict(host).items()}
    on_gpu = {k: gpu.xp.array(v) for k, v in weights.items()}  # copies: the trial learns in place
    with kernels.disabled():
        err = train_step(weights, x, latent, config, k=100.0, eta=4.0, xp=np)
    gpu_err = train_step(on_gpu, gpu.xp.asarray(x), gpu.xp.asarray(latent), config, k=100.0, eta=4.0, xp=gpu.xp)
    assert np.abs(weights["w_slow"]).max() > 0.01  # it learnt something
    assert float(gpu_err) == pytest.approx(err, rel=1e-6)
    np.testing.assert_allclose(gpu.to_numpy(on_gpu["w_slow"]), weights["w_slow"], rtol=0,
                               atol=1e-6 * np.abs(weights["w_slow"]).max())
