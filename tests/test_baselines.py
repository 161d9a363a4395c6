"""Baselines: BPTT-LIF gradient, dynamics shared with sim.lif, and tiny end-to-end runs."""
import numpy as np
import pytest

from sim.baselines import train_bptt_lif, train_force, train_reservoir
from sim.baselines.bptt_lif import TRAINED, Spike, loss_and_grad
from sim.baselines.common import reservoir
from sim.baselines.force import fold
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from sim.tasks.base import Task
from sim.tasks.xor import xor_dataset


def tiny_xor(seed=0, n_steps=300, sizes=(128, 64, 64)):
    rng = np.random.default_rng(seed)
    return Task("xor", *(xor_dataset(n, rng, n_steps=n_steps, pulse_ms=30) for n in sizes))


def tiny_net(rng, n=6, tau=10.0):
    return SpikingNetwork(
        tau_mem=rng.uniform(3, 8, n), tau_fast=np.ones(n), tau_slow=np.full(n, tau), v_th=np.ones(n),
        v_rest=np.zeros(n), bias=rng.uniform(0.5, 1.2, n), w_in=rng.normal(0, 2, (1, n)),
        w_fast=np.zeros((n, n)), w_slow=rng.normal(0, 3, (n, n)), w_out=rng.normal(0, 5, (n, 1)), tau_out=tau)


def window_mse(outputs, data):
    mask = data.mask / np.maximum(data.mask.sum(1, keepdims=True), 1)
    mean = np.einsum("stk,st->sk", outputs, mask)
    return np.mean((mean - np.einsum("stk,st->sk", data.targets, mask)) ** 2)


def assert_gradients_match(loss_and_grad, net, eps: float = 1e-6) -> None:
    """The hand-written gradients of `loss_and_grad(net) -> (loss, grads)` against central
    finite differences, for every trained parameter."""
    _, grads = loss_and_grad(net)
    for name in TRAINED:
        a = getattr(net, name)
        numeric = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            up, down = a.copy(), a.copy()
            up[i] += eps
            down[i] -= eps
            numeric[i] = (loss_and_grad(net.replace(**{name: up}))[0]
                          - loss_and_grad(net.replace(**{name: down}))[0]) / (2 * eps)
        assert np.abs(numeric).max() > 1e-4, name
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max(), err_msg=name)


def test_bptt_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    data = xor_dataset(4, rng, n_steps=90, pulse_ms=5)
    net = tiny_net(rng)
    spike = Spike(beta=3.0, smooth=True)
    assert_gradients_match(lambda candidate: loss_and_grad(candidate, data, spike), net)


def test_bptt_forward_is_the_lif_simulator():
    rng = np.random.default_rng(1)
    data = xor_dataset(3, rng, n_steps=120, pulse_ms=10)
    net = tiny_net(rng)
    loss, _ = loss_and_grad(net, data)  # hard spikes
    out = simulate(lif_params(net, "numpy", dtype=np.float64), data.inputs).outputs[0]
    assert loss == pytest.approx(window_mse(out, data), rel=1e-9)
    with pytest.raises(ValueError, match="w_fast = 0"):
        loss_and_grad(net.replace(w_fast=np.ones((6, 6))), data)


def test_force_feedback_folds_into_the_slow_weights():
    rng = np.random.default_rng(2)
    task = tiny_xor(sizes=(2, 2, 2))
    net = reservoir(task, 30, rng, gain=3.0, density=0.3, input_scale=2.0, bias_range=(0.5, 1.2))
    d, eta = rng.normal(0, 5, (30, 1)), rng.uniform(-1, 1, (1, 30))
    x = task.train.inputs[0].astype(np.float64)
    v, r, ys = net.v_rest.copy(), np.zeros(30), []
    for c in x:  # the reservoir with explicit output feedback
        v = v + (net.v_rest - v + r @ net.w_slow + (r @ d) @ eta + c @ net.w_in + net.bias) / net.tau_mem
        s = v >= net.v_th
        v = np.where(s, net.v_reset, v)
        r = r * np.exp(-1 / net.tau_out) + s / net.tau_out
        ys.append(r @ d)
    folded = fold(net.w_slow, d, eta, net)
    out = simulate(lif_params(folded, "numpy", dtype=np.float64), x[None]).outputs[0, 0]
    np.testing.assert_allclose(out, np.array(ys), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("train, method, epochs", [(train_reservoir, "reservoir", None),
                                                   (train_force, "force", 2), (train_bptt_lif, "bptt", 2)])
def test_baseline_learns_tiny_xor(train, method, epochs):
    task = tiny_xor()
    seen = []
    net = train(task, n_neurons=80, epochs=epochs, seed=0, progress=seen.append)
    assert net.n_neurons == 80 and np.all(net.w_fast == 0)
    assert net.meta["method"] == method and net.meta["task"] == "xor" and net.meta["seed"] == 0
    acc = net.meta["metrics"]["test_accuracy"]
    assert acc >= 0.8, acc
    out = simulate(lif_params(net, "numpy"), task.test.inputs).outputs[0]
    assert float(task.accuracy(out, task.test)) == acc  # the recorded metric is sim.lif's
    assert seen and {"epoch", "loss", "acc"} <= set(seen[0])


def test_bad_arguments_are_rejected():
    task = tiny_xor(sizes=(4, 4, 4))
    with pytest.raises(ValueError, match="n_neurons"):
        train_reservoir(task, n_neurons=1)
    with pytest.raises(ValueError, match="epochs"):
        train_reservoir(task, epochs=3)
    with pytest.raises(ValueError, match="epochs"):
        train_bptt_lif(task, epochs=0)
