"""sim.lif.simulate against a literal per-step loop of the dynamics in sim/network.py."""
import numpy as np
import pytest

from sim import kernels
from sim.lif import lif_params, simulate
from sim.network import NetworkError, SpikingNetwork
from tests.networks import random_network


def reference(net: SpikingNetwork, x: np.ndarray, tau_fast_inh=None, tau_slow_inh=None) -> np.ndarray:
    """With tau_*_inh, the currents of negative weights decay with those τ (four currents)."""
    n = net.n_neurons
    v, r = net.v_rest.copy(), np.zeros(n)
    classes = [(net.w_fast, net.tau_fast, tau_fast_inh), (net.w_slow, net.tau_slow, tau_slow_inh)]
    parts = [(np.maximum(w, 0), tau) for w, tau, _ in classes] + [
        (np.minimum(w, 0), tau if inh is None else inh) for w, tau, inh in classes]
    currents = [np.zeros(n) for _ in parts]
    ys = []
    for c in x:
        current = sum(currents) + c @ net.w_in + net.bias
        v = v + 1.0 / net.tau_mem * (net.v_rest - v + current)
        s = (v >= net.v_th).astype(float)
        v = np.where(s > 0, net.v_reset, v)
        currents = [i * np.exp(-1 / tau) + (s @ w) / tau for i, (w, tau) in zip(currents, parts)]
        r = r * np.exp(-1 / net.tau_out) + s / net.tau_out
        ys.append(r @ net.w_out)
    return np.array(ys)


def test_simulate_matches_literal_dynamics():
    rng = np.random.default_rng(3)
    net = random_network(rng)
    x = rng.normal(0, 1, (3, 200, 2))
    out = simulate(lif_params(net, "numpy", draws=2, dtype=np.float64), x).outputs
    assert out.shape == (2, 3, 200, 1)
    for s in range(3):
        np.testing.assert_allclose(out[0, s], reference(net, x[s]), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(out[0], out[1])  # identical draws give identical results


def test_fused_kernel_matches_the_array_code():
    """The NumPy default (sim.kernels.lif_run) and the array code CuPy runs: several draws,
    dead neurons, split input weights, the raster."""
    rng = np.random.default_rng(6)
    params = lif_params(random_network(rng, n=20, n_out=3), "numpy", draws=3, dtype=np.float64)
    params.alive[1, 0, :4] = 0
    params.w_in_neg = params.w_in * 0.6
    params.v_th = params.v_th * rng.uniform(0.8, 1.2, params.v_th.shape)
    x = rng.normal(0, 1, (4, 150, 2))
    fused, fused_raster = simulate(params, x, record_spikes=True)
    with kernels.disabled():
        array, array_raster = simulate(params, x, record_spikes=True)
    assert fused_raster.sum() > 0
    np.testing.assert_array_equal(fused_raster, array_raster)
    np.testing.assert_array_equal(fused.spike_count, array.spike_count)
    np.testing.assert_allclose(fused.outputs, array.outputs, rtol=1e-9, atol=1e-12)


def test_inhibitory_currents_with_their_own_time_constants():
    """LIFParams.tau_fast_inh / tau_slow_inh: the literal dynamics with four currents, the same
    on the fused kernel and the array code; equal τs give the one-current-per-class result."""
    rng = np.random.default_rng(8)
    net = random_network(rng, n=16)
    tau_fast_inh, tau_slow_inh = rng.uniform(1, 5, 16), net.tau_slow * rng.uniform(0.3, 0.6, 16)
    x = rng.normal(0, 1, (3, 200, 2))
    params = lif_params(net, "numpy", draws=2, dtype=np.float64)
    params.tau_fast_inh, params.tau_slow_inh = tau_fast_inh[None, None], tau_slow_inh[None, None]
    fused, fused_raster = simulate(params, x, record_spikes=True)
    with kernels.disabled():
        array, array_raster = simulate(params, x, record_spikes=True)
    for s in range(3):
        np.testing.assert_allclose(fused.outputs[0, s], reference(net, x[s], tau_fast_inh, tau_slow_inh),
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(fused_raster, array_raster)
    np.testing.assert_allclose(fused.outputs, array.outputs, rtol=1e-9, atol=1e-12)
    plain = simulate(lif_params(net, "numpy", dtype=np.float64), x)
    assert not np.array_equal(fused.spike_count[0], plain.spike_count[0])  # the inhibitory τs matter
    params.tau_fast_inh, params.tau_slow_inh = params.tau_fast, params.tau_slow.copy()
    np.testing.assert_allclose(simulate(params, x).outputs[0], plain.outputs[0], rtol=1e-9, atol=1e-12)


def test_dead_neurons_never_spike():
    rng = np.random.default_rng(4)
    params = lif_params(random_network(rng), "numpy", draws=1)
    params.alive[..., :6] = 0
    result = simulate(params, rng.normal(0, 1, (2, 100, 2)))
    assert result.spike_count[..., :6].sum() == 0 and result.spike_count[..., 6:].sum() > 0


def test_network_rejects_bad_shapes_and_values():
    rng = np.random.default_rng(5)
    net = random_network(rng)
    with pytest.raises(NetworkError, match="w_slow has shape"):
        net.replace(w_slow=np.zeros((3, 3)))
    with pytest.raises(NetworkError, match="tau_mem must be > 0"):
        net.replace(tau_mem=np.zeros(net.n_neurons))
    with pytest.raises(NetworkError, match="bias contains NaN"):
        net.replace(bias=np.full(net.n_neurons, np.nan))
