"""Recurrent LIF network trained by BPTT with a surrogate gradient (hand-written backward).

The trained network uses only the slow synapse, with τ_slow = τ_out = τ, so its slow
current equals `r @ w_slow` and the stored forward pass needs one filtered state r.
Per step (exactly `sim.lif.simulate` with w_fast = 0):

    u = v + a·(v_rest − v + r_prev @ w_slow + c_t @ w_in + bias),  a = dt/τ_mem
    s = H(u − v_th);  v = u·(1 − s) + v_reset·s
    r = k·r_prev + s/τ,  k = exp(−dt/τ);   y = r @ w_out

Loss: squared error of the output's mean over each sample's decision window against
the target's mean there — the statistic the task decides on (`Task.decide`).
Backward: exact reverse-mode through every step (reset included), with H′ replaced by
the fast-sigmoid surrogate 1/(β|u − v_th| + 1)². With `Spike(smooth=True)` the forward
uses the sigmoid σ(β(u − v_th)) and its exact derivative, so `loss_and_grad` is the
true gradient of a smooth model and can be checked against finite differences.

Training: Adam on w_in, w_slow, bias and w_out, each parameter's step size scaled by
its initial spread, global gradient-norm clipping, minibatches of trials; the network
with the best validation accuracy (measured by `sim.lif.simulate`) is kept. Hardware-aware
(`hardware_aware`, a chip mismatch level): each minibatch's forward and backward pass runs
on a freshly sampled chip (`sim.perturb.ChipDraw`), the gradient flows to the nominal
parameters, and epochs are judged by the median validation accuracy over sampled chips.

Deviations from the paper's BPTT baseline: the recurrent weights start from the
liquid-state reservoir's random sparse matrix at a lower gain (1.5), and the readout
from the ridge solution on that initial network, which shortens training to minutes on
a CPU; the time constants are the ADS network's (τ_mem = 20 ms, τ = 70 ms).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from sim.adam import Adam
from sim.backend import Backend, get_backend
from sim.baselines.common import finish, neuron_budget, positive, reservoir, window_rates
from sim.baselines.reservoir import window_targets
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import DEFAULT_SPEC
from sim.lif import DT_MS
from sim.network import SpikingNetwork
from sim.perturb import ChipDraw, ChipMismatch, Perturbation, evaluate
from sim.readout import ridge
from sim.tasks.base import Dataset, Task

TRAINED = ("w_in", "w_slow", "bias", "w_out")
INIT = {"gain": 1.5, "density": 0.1, "input_scale": 2.0, "bias_range": (0.5, 1.2), "tau_mem": 20.0,
        "tau_syn": 70.0}
OPTIM = {"lr": 5e-4, "batch": 32, "clip": 1.0, "beta": 5.0, "ridge": 1e-4}
DEFAULT_EPOCHS = 8
SELECTION_CHIPS = 8  # hardware-aware: sampled chips that judge each epoch on the validation split


@dataclass(frozen=True)
class Spike:
    """The spike nonlinearity and the derivative the backward pass uses."""

    beta: float = OPTIM["beta"]
    smooth: bool = False  # True: sigmoid forward with its exact derivative (for checks)

    def __call__(self, x: Any, xp: Any) -> Any:
        if self.smooth:
            return 1.0 / (1.0 + xp.exp(-self.beta * x))
        return (x >= 0).astype(x.dtype)

    def grad(self, x: Any, xp: Any) -> Any:
        if self.smooth:
            s = 1.0 / (1.0 + xp.exp(-self.beta * x))
            return self.beta * s * (1.0 - s)
        return 1.0 / (self.beta * xp.abs(x) + 1.0) ** 2


@dataclass
class Fixed:
    """The untrained constants of the network on the backend."""

    a_mem: Any
    v_rest: Any
    v_th: Any
    v_reset: float
    tau: float

    @classmethod
    def of(cls, net: SpikingNetwork, be: Backend, dtype: Any) -> "Fixed":
        if np.any(net.w_fast != 0) or not np.allclose(net.tau_slow, net.tau_out):
            raise ValueError("BPTT-LIF needs w_fast = 0 and tau_slow = tau_out for every neuron")
        return cls(a_mem=be.asarray(DT_MS / net.tau_mem, dtype), v_rest=be.asarray(net.v_rest, dtype),
                   v_th=be.asarray(net.v_th, dtype), v_reset=float(net.v_reset), tau=float(net.tau_out))


def loss_and_grad_arrays(params: dict[str, Any], fixed: Fixed, x: Any, target: Any, mask: Any,
                         spike: Spike, xp: Any, chip: ChipDraw | None = None) -> tuple[float, dict[str, Any]]:
    """Masked MSE and its gradient for inputs x [B, T, n_in], target [B, T, n_out], mask [B, T].

    With `chip` (one draw, vectors [N]) the network runs as that chip realises it
    (`sim.perturb.ChipDraw`: per-neuron gains by synapse type, leak, threshold, drive; the
    slow τ keeps its nominal value, its charge changes) and the gradient is the nominal
    parameters'. The inputs' signs take separate weights there, so x becomes [x⁺, x⁻]."""
    if chip is None:
        return _loss_and_grad(params, fixed, x, target, mask, spike, xp)
    tau = xp.full(fixed.v_th.shape, fixed.tau, params["w_slow"].dtype)
    slow = chip.charge_gain(params["w_slow"], tau, "slow", xp)
    pos, neg = chip.input_gains(params["w_in"], xp.ones_like(tau), xp)  # inputs: fast types, τ 1 ms
    v_rest, bias = chip.rest_and_bias(fixed.v_rest, params["bias"], fixed.v_reset)
    realised = {"w_in": xp.concatenate([params["w_in"] * pos, params["w_in"] * neg]), "w_slow": params["w_slow"] * slow,
                "bias": bias, "w_out": params["w_out"]}
    on_chip = Fixed(a_mem=DT_MS / chip.tau_mem(DT_MS / fixed.a_mem), v_rest=v_rest,
                    v_th=chip.threshold(fixed.v_th, fixed.v_reset), v_reset=fixed.v_reset, tau=fixed.tau)
    loss, grads = _loss_and_grad(realised, on_chip, xp.concatenate([xp.maximum(x, 0), xp.minimum(x, 0)], -1),
                                 target, mask, spike, xp)
    n_in = params["w_in"].shape[0]
    return loss, {"w_in": grads["w_in"][:n_in] * pos + grads["w_in"][n_in:] * neg, "w_slow": grads["w_slow"] * slow,
                  "bias": grads["bias"] * chip.drive_scale, "w_out": grads["w_out"]}


def _loss_and_grad(params: dict[str, Any], fixed: Fixed, x: Any, target: Any, mask: Any,
                   spike: Spike, xp: Any) -> tuple[float, dict[str, Any]]:
    """`loss_and_grad_arrays` of the network as given."""
    b, n_steps, _ = x.shape
    n = params["w_slow"].shape[0]
    k = float(np.exp(-DT_MS / fixed.tau))
    dtype = params["w_slow"].dtype
    drive = xp.matmul(x, params["w_in"]) + params["bias"]  # [B, T, N]
    u_all = xp.empty((n_steps, b, n), dtype)
    s_all = xp.empty((n_steps, b, n), dtype)
    r_all = xp.zeros((n_steps + 1, b, n), dtype)  # r_all[t] is r before step t
    v = xp.broadcast_to(fixed.v_rest, (b, n)).astype(dtype)
    for t in range(n_steps):
        u = v + fixed.a_mem * (fixed.v_rest - v + r_all[t] @ params["w_slow"] + drive[:, t])
        s = spike(u - fixed.v_th, xp)
        v = u * (1.0 - s) + fixed.v_reset * s
        r_all[t + 1] = k * r_all[t] + s / fixed.tau
        u_all[t], s_all[t] = u, s
    y = xp.matmul(r_all[1:], params["w_out"])  # [T, B, n_out]
    weight = xp.swapaxes(mask, 0, 1).astype(dtype)
    weight = (weight / xp.maximum(weight.sum(0), 1.0))[..., None]  # window mean per sample
    err = xp.sum((y - xp.swapaxes(target, 0, 1)) * weight, axis=0)  # [B, n_out]
    loss = float(xp.mean(err ** 2))
    g_y = 2.0 * err[None] * weight / err.size  # [T, B, n_out]
    d_cur = xp.empty((n_steps, b, n), dtype)  # dL/d(input current) per step
    d_r = xp.zeros((b, n), dtype)
    d_v = xp.zeros((b, n), dtype)
    w_out_t, w_rec_t = params["w_out"].T, params["w_slow"].T
    for t in range(n_steps - 1, -1, -1):
        d_r = d_r + g_y[t] @ w_out_t
        u, s = u_all[t], s_all[t]
        d_s = d_r / fixed.tau + d_v * (fixed.v_reset - u)
        d_u = d_v * (1.0 - s) + d_s * spike.grad(u - fixed.v_th, xp)
        d_cur[t] = fixed.a_mem * d_u
        d_v = d_u * (1.0 - fixed.a_mem)
        d_r = k * d_r + d_cur[t] @ w_rec_t
    flat = d_cur.reshape(n_steps * b, n)
    grads = {
        "w_out": r_all[1:].reshape(n_steps * b, n).T @ g_y.reshape(n_steps * b, -1),
        "w_slow": r_all[:-1].reshape(n_steps * b, n).T @ flat,
        "w_in": xp.swapaxes(x, 0, 1).reshape(n_steps * b, -1).T @ flat,
        "bias": flat.sum(0),
    }
    return loss, grads


def loss_and_grad(net: SpikingNetwork, data: Dataset, spike: Spike = Spike(), backend: Backend | str = "numpy",
                  dtype: Any = np.float64) -> tuple[float, dict[str, np.ndarray]]:
    """Loss of `net` on `data` and its gradient with respect to `TRAINED` (NumPy arrays)."""
    be = get_backend(backend)
    params = {name: be.asarray(getattr(net, name), dtype) for name in TRAINED}
    loss, grads = loss_and_grad_arrays(params, Fixed.of(net, be, dtype), be.asarray(data.inputs, dtype),
                                       be.asarray(data.targets, dtype), be.asarray(data.mask), spike, be.xp)
    return loss, {name: be.to_numpy(g) for name, g in grads.items()}


def initial_network(task: Task, n: int, rng: np.random.Generator, backend: Backend | str) -> SpikingNetwork:
    """A sparse random LIF network with a ridge readout of its window rates."""
    net = reservoir(task, n, rng, **INIT)
    w_out = ridge(window_rates(net, task.train, backend), window_targets(task, "train"), OPTIM["ridge"])
    return net.replace(w_out=w_out)


def train_bptt_lif(task: Task, *, n_neurons: int | None = None, epochs: int | None = None, seed: int = 0,
                   backend: Backend | str = "numpy", progress: Callable[[dict], None] | None = None,
                   hardware_aware: MismatchLevel | None = None, chip_spec: str = DEFAULT_SPEC) -> SpikingNetwork:
    """Train a recurrent LIF network on `task` by BPTT with a surrogate gradient.

    `hardware_aware`: a chip mismatch level (`sim.perturb.ChipMismatch` of `chip_spec`); each
    minibatch then runs on a freshly sampled chip, and the epoch kept is the one with the best
    median validation accuracy over `SELECTION_CHIPS` sampled chips."""
    started = time.perf_counter()
    be = get_backend(backend)
    xp = be.xp
    epochs = positive("epochs", epochs, DEFAULT_EPOCHS)
    rng = np.random.default_rng(seed)
    net = initial_network(task, neuron_budget(task, n_neurons), rng, be)
    fixed = Fixed.of(net, be, np.float32)
    params = {name: be.asarray(getattr(net, name), np.float32) for name in TRAINED}
    lr = {name: OPTIM["lr"] * max(float(np.std(getattr(net, name))), 1e-2) for name in TRAINED}
    optim = Adam(params, lr, OPTIM["clip"], xp)
    data, spike = task.train, Spike()
    mismatch = None if hardware_aware is None else ChipMismatch(hardware_aware, chip_spec)
    chip_rng = np.random.default_rng(seed + 11)

    def score(candidate: SpikingNetwork) -> float:
        if mismatch is None:
            return float(evaluate(candidate, task, data=task.val, backend=be)[0])
        return float(np.median(evaluate(candidate, task, Perturbation(chip=mismatch), draws=SELECTION_CHIPS,
                                        seed=seed, data=task.val, backend=be)))

    best = (score(net), -1, net)
    for epoch in range(epochs):
        order = rng.permutation(len(data))
        losses = []
        for first in range(0, len(order), OPTIM["batch"]):
            idx = order[first:first + OPTIM["batch"]]
            chip = None if mismatch is None else ChipDraw.sample(mismatch, net.n_neurons, 1, chip_rng, xp).single()
            loss, grads = loss_and_grad_arrays(params, fixed, be.asarray(data.inputs[idx]),
                                               be.asarray(data.targets[idx]), be.asarray(data.mask[idx]), spike, xp,
                                               chip)
            optim.step(params, grads)
            losses.append(loss)
        trained = net.replace(**{name: be.to_numpy(p) for name, p in params.items()})
        acc = score(trained)
        if progress is not None:
            progress({"epoch": epoch, "loss": float(np.mean(losses)), "acc": acc})
        if acc > best[0]:
            best = (acc, epoch, trained)
    val_acc, best_epoch, trained = best
    return finish(trained, task, method="bptt", seed=seed, started=started, backend=be,
                  hyper={**INIT, **OPTIM, "epochs": epochs, "hardware_aware": hardware_aware, "chip_spec": chip_spec},
                  extra={"val_accuracy": val_acc, "best_epoch": best_epoch})
