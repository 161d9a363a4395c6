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
on freshly sampled chips (`sim.perturb.ChipDraw`), the gradient flows to the nominal
parameters, and epochs are judged by the median validation accuracy over sampled chips.
With `chips` = K the minibatch is split among K chips and the loss is the mean of their
losses plus `worst_weight` times the mean of the worst ⌈q·K⌉ of them (q = `worst`, a
CVaR term: yield is a tail quantity). `fan_in`: each neuron keeps its `fan_in` strongest
initial recurrent weights and only those learn, so the network fits the chip's CAM
(64 slots per neuron) before it is compiled.

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
from sim.baselines.common import finish, mean_output_accuracy, neuron_budget, positive, reservoir, window_rates
from sim.baselines.reservoir import window_targets
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import DEFAULT_SPEC
from sim.lif import DT_MS
from sim.network import SpikingNetwork, strongest_inputs
from sim.perturb import ChipDraw, ChipMismatch, Perturbation, evaluate, quantise
from sim.readout import STRENGTHS, ridge
from sim.tasks.base import Dataset, Task

TRAINED = ("w_in", "w_slow", "bias", "w_out")
QUANTISED = ("w_in", "w_slow")  # the weights the chip realises as integer CAM counts
INIT = {"gain": 1.5, "density": 0.1, "input_scale": 2.0, "bias_range": (0.5, 1.2), "tau_mem": 20.0,
        "tau_syn": 70.0}
OPTIM = {"lr": 5e-4, "batch": 32, "clip": 1.0, "beta": 5.0, "ridge": 1e-4}
DEFAULT_EPOCHS = 8
SELECTION_CHIPS = 8  # hardware-aware: sampled chips that judge each epoch on the validation split
READOUT_CHIPS = 8  # chips > 1: sampled chips the initial and the final ridge readouts are fitted across


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


def worst_weights(losses: np.ndarray, worst: float, worst_weight: float) -> np.ndarray:
    """Weights of K chip losses in mean + worst_weight·CVaR_q: 1/K each, plus worst_weight/m
    for each of the m = ⌈q·K⌉ largest (none when q = 0)."""
    k = losses.size
    weights = np.full(k, 1.0 / k)
    m = int(np.ceil(worst * k - 1e-9))
    if m > 0:
        weights[np.argsort(-losses, kind="stable")[:m]] += worst_weight / m
    return weights


def fit_readout(net: SpikingNetwork, task: Task, backend: Backend | str,
                chips: ChipDraw | None = None) -> SpikingNetwork:
    """`net` with the ridge readout of its window rates on the training split, fitted on the
    nominal network or across the D chips of `chips` (one readout for all of them)."""
    targets = window_targets(task, "train")
    features = window_rates(net, task.train, backend, chips)
    if chips is None:
        return net.replace(w_out=ridge(features, targets, OPTIM["ridge"]))
    draws = int(chips.dmem.shape[0])
    x, y = features.reshape(draws, len(targets), -1), np.broadcast_to(targets, (draws, *targets.shape))
    held = np.arange(draws) % 4 == 3  # a quarter of the chips judges the strength

    def held_out_error(strength: float) -> float:
        w = ridge(x[~held].reshape(-1, x.shape[-1]), y[~held].reshape(-1, y.shape[-1]), strength)
        return float(np.mean((x[held] @ w - y[held]) ** 2))

    strength = min(STRENGTHS, key=held_out_error)
    return net.replace(w_out=ridge(features, y.reshape(-1, y.shape[-1]), strength))


def chip_objective(net: SpikingNetwork, task: Task, backend: Backend | str, chips: ChipDraw, worst: float,
                   worst_weight: float) -> tuple[float, float]:
    """(−(mean + worst_weight·CVaR_worst) of the D chips' validation losses, their mean
    validation accuracy): the training loss of `train_bptt_lif` on fixed chips."""
    draws = int(chips.dmem.shape[0])
    outputs = (window_rates(net, task.val, backend, chips) @ net.w_out).reshape(draws, len(task.val), -1)
    losses = np.mean((outputs - window_targets(task, "val")) ** 2, axis=(1, 2))
    acc = np.mean([mean_output_accuracy(task, out, task.val) for out in outputs])
    return -float(worst_weights(losses, worst, worst_weight) @ losses), float(acc)


def initial_network(task: Task, n: int, rng: np.random.Generator, backend: Backend | str,
                    fan_in: int = 0, chips: ChipDraw | None = None, tau_syn: float = INIT["tau_syn"]) -> SpikingNetwork:
    """A sparse random LIF network with a ridge readout of its window rates (across `chips`
    when given); with `fan_in` each neuron keeps only its `fan_in` strongest recurrent weights."""
    net = reservoir(task, n, rng, **{**INIT, "tau_syn": tau_syn})
    if fan_in:
        net = net.replace(w_slow=net.w_slow * strongest_inputs(net.w_slow, fan_in))
    return fit_readout(net, task, backend, chips)


def train_bptt_lif(task: Task, *, n_neurons: int | None = None, epochs: int | None = None, seed: int = 0,
                   backend: Backend | str = "numpy", progress: Callable[[dict], None] | None = None,
                   hardware_aware: MismatchLevel | None = None, chip_spec: str = DEFAULT_SPEC,
                   chips: int = 1, worst: float = 0.0, worst_weight: float = 1.0,
                   fan_in: int = 0, lr: float = OPTIM["lr"], weight_bits: int | None = None,
                   tau_syn: float = INIT["tau_syn"]) -> SpikingNetwork:
    """Train a recurrent LIF network on `task` by BPTT with a surrogate gradient.

    `hardware_aware`: a chip mismatch level (`sim.perturb.ChipMismatch` of `chip_spec`); each
    minibatch then runs on `chips` freshly sampled chips (its trials split among them), the
    loss is their mean plus `worst_weight` × the mean of the worst `worst` fraction of them,
    and the epoch kept is the one with the best median validation accuracy over
    `SELECTION_CHIPS` sampled chips (with `chips` ≥ 2: the lowest validation loss, mean +
    worst quantile, over `SELECTION_CHIPS` fixed sampled chips; the readout is then
    re-fitted across `READOUT_CHIPS` sampled chips). `fan_in` (0: all): recurrent weights
    per neuron. `weight_bits`: w_in and w_slow run quantised to that many bits
    (`sim.perturb.quantise`, straight-through gradient), as `harness compile --weight-bits`
    caps the chip's counts; the network returned carries the quantised weights. `lr`:
    Adam's step relative to each parameter's initial spread. `tau_syn`: the slow synapses' and
    the readout's time constant in ms (default the ADS network's)."""
    started = time.perf_counter()
    be = get_backend(backend)
    xp = be.xp
    epochs = positive("epochs", epochs, DEFAULT_EPOCHS)
    chips = positive("chips", chips, 1)
    if hardware_aware is None and (chips > 1 or worst > 0):
        raise ValueError("chips > 1 and worst > 0 need a hardware_aware mismatch level")
    if not 0.0 <= worst <= 1.0 or worst_weight < 0:
        raise ValueError(f"worst must be in [0, 1] and worst_weight >= 0, got {worst!r} and {worst_weight!r}")
    if chips > OPTIM["batch"]:
        raise ValueError(f"chips must be at most the minibatch size {OPTIM['batch']}, got {chips}")
    if weight_bits is not None and (int(weight_bits) != weight_bits or weight_bits < 2):
        raise ValueError(f"weight_bits must be an integer >= 2 (sign + magnitude), got {weight_bits!r}")
    if int(fan_in) != fan_in or fan_in < 0:
        raise ValueError(f"fan_in must be an integer >= 0 (0: all), got {fan_in!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not tau_syn >= 1:
        raise ValueError(f"tau_syn must be >= 1 ms, got {tau_syn!r}")
    rng = np.random.default_rng(seed)
    n = neuron_budget(task, n_neurons)
    mismatch = None if hardware_aware is None else ChipMismatch(hardware_aware, chip_spec)
    chip_rng = np.random.default_rng(seed + 11)

    def readout_chips() -> ChipDraw | None:  # the chips a readout is fitted across (K ≥ 2 only)
        return None if chips < 2 else ChipDraw.sample(mismatch, n, READOUT_CHIPS, chip_rng, xp)

    net = initial_network(task, n, rng, be, int(fan_in), readout_chips(), float(tau_syn))
    mask = be.asarray(net.w_slow != 0, np.float32) if fan_in else None
    fixed = Fixed.of(net, be, np.float32)
    params = {name: be.asarray(getattr(net, name), np.float32) for name in TRAINED}
    steps = {name: lr * max(float(np.std(getattr(net, name))), 1e-2) for name in TRAINED}
    optim = Adam(params, steps, OPTIM["clip"], xp)
    data, spike = task.train, Spike()

    def realised(p: dict[str, Any]) -> dict[str, Any]:
        """The parameters the network runs with: quantised w_in and w_slow under `weight_bits`."""
        if weight_bits is None:
            return p
        return {**p, **{name: quantise(p[name], int(weight_bits), xp) for name in QUANTISED}}

    if weight_bits is not None:
        net = net.replace(**{name: be.to_numpy(value) for name, value in realised(params).items()})

    judges = None if chips < 2 else ChipDraw.sample(mismatch, n, SELECTION_CHIPS, np.random.default_rng(seed + 12), xp)

    def score(candidate: SpikingNetwork) -> tuple[float, float]:
        """(what the epoch is judged by, higher is better; validation accuracy to report)."""
        if mismatch is None:
            acc = float(evaluate(candidate, task, data=task.val, backend=be)[0])
            return acc, acc
        if judges is None:
            acc = float(np.median(evaluate(candidate, task, Perturbation(chip=mismatch), draws=SELECTION_CHIPS,
                                           seed=seed, data=task.val, backend=be)))
            return acc, acc
        return chip_objective(candidate, task, be, judges, worst, worst_weight)

    best = (*score(net), -1, net)  # (judged by, validation accuracy, epoch, network)
    for epoch in range(epochs):
        order = rng.permutation(len(data))
        losses = []
        for first in range(0, len(order), OPTIM["batch"]):
            idx = order[first:first + OPTIM["batch"]]
            draw = None if mismatch is None else ChipDraw.sample(mismatch, net.n_neurons, chips, chip_rng, xp)
            forward = realised(params)  # gradients pass straight through the quantisation
            parts = [loss_and_grad_arrays(forward, fixed, be.asarray(data.inputs[part]),
                                          be.asarray(data.targets[part]), be.asarray(data.mask[part]), spike, xp,
                                          None if draw is None else draw.single(k))
                     for k, part in enumerate(np.array_split(idx, min(chips, len(idx))))]
            weights = worst_weights(np.array([loss for loss, _ in parts]), worst, worst_weight)
            grads = {name: sum(w * g[name] for w, (_, g) in zip(weights, parts)) for name in TRAINED}
            if mask is not None:
                grads["w_slow"] = grads["w_slow"] * mask
            optim.step(params, grads)
            losses.append(float(np.dot(weights, [loss for loss, _ in parts])))
        trained = net.replace(**{name: be.to_numpy(p) for name, p in realised(params).items()})
        judged, acc = score(trained)
        if progress is not None:
            progress({"epoch": epoch, "loss": float(np.mean(losses)), "acc": acc})
        if judged > best[0]:
            best = (judged, acc, epoch, trained)
    _, val_acc, best_epoch, trained = best
    if chips > 1:
        trained = fit_readout(trained, task, be, readout_chips())
    return finish(trained, task, method="bptt", seed=seed, started=started, backend=be,
                  hyper={**INIT, **OPTIM, "tau_syn": float(tau_syn), "lr": lr, "epochs": epochs,
                         "hardware_aware": hardware_aware, "chip_spec": chip_spec, "chips": chips, "worst": worst,
                         "worst_weight": worst_weight, "fan_in": int(fan_in), "weight_bits": weight_bits},
                  extra={"val_accuracy": val_acc, "best_epoch": best_epoch})
