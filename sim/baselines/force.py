"""FORCE: recursive least squares on a spiking reservoir with output feedback.

After Nicola & Clopath (2017): a fixed random sparse LIF reservoir `w0` whose output
`y = r @ d` is fed back through a fixed random encoder `η` [n_out, N]; RLS adapts the
decoder `d` online, every `rls_every` steps, towards the task's target trajectory.
Recurrent and feedback currents both act through the slow synapse whose time constant
equals the readout's (τ_slow = τ_out), so the slow current equals `r @ w_slow` and the
feedback folds exactly into the recurrent matrix: `w_slow = w0 + d η`, `w_out = d`.
The result is a plain `SpikingNetwork` that `sim.lif.simulate` runs as trained.

Trials run in batches of `batch` in parallel and share one decoder; each RLS step is
the exact block update for the batch's rows (Woodbury identity). After every epoch the
folded network is scored on the validation split and the best decoder is kept.

Deviations from the paper: single-exponential synapses (the network model has no
rise time); the reservoir is the liquid-state baseline's (τ_mem = 20 ms,
τ_syn = 70 ms, gain 3), whose own memory carries the first XOR pulse; RLS fits the
target only on the task's decision window (the target elsewhere is not judged), so the
feedback is free outside it.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from sim.backend import Backend, get_backend
from sim.baselines.common import finish, neuron_budget, positive, reservoir
from sim.lif import DT_MS
from sim.network import SpikingNetwork
from sim.perturb import evaluate
from sim.tasks.base import Dataset, Task

HYPER = {"gain": 3.0, "density": 0.1, "input_scale": 2.0, "bias_range": (0.5, 1.2), "tau_mem": 20.0,
         "tau_syn": 70.0}
RLS = {"feedback": 0.3, "alpha": 1e-4, "rls_every": 2, "batch": 16, "outside": 0.1}
DEFAULT_EPOCHS = 4


def fold(w0: np.ndarray, d: np.ndarray, eta: np.ndarray, net: SpikingNetwork) -> SpikingNetwork:
    """The reservoir with feedback folded in: w_slow = w0 + d η, w_out = d."""
    return net.replace(w_slow=w0 + d @ eta, w_out=d)


def rls_epoch(net: SpikingNetwork, w0: Any, eta: Any, d: Any, p: Any, data: Dataset, order: np.ndarray,
              batch: int, rls_every: int, outside: float, be: Backend) -> tuple[Any, Any, float]:
    """One pass of online FORCE over `data` in `order`; returns d, P and the window MSE."""
    xp = be.xp
    a_mem = be.asarray(DT_MS / net.tau_mem)
    v_rest, v_th, bias = (be.asarray(a) for a in (net.v_rest, net.v_th, net.bias))
    k_out = float(np.exp(-DT_MS / net.tau_out))
    w_in = be.asarray(net.w_in)
    sq_err, count = 0.0, 0
    for first in range(0, len(order), batch):
        idx = order[first:first + batch]
        x, target = be.asarray(data.inputs[idx], xp.float64), be.asarray(data.targets[idx], xp.float64)
        weight = be.asarray(np.where(data.mask[idx], 1.0, np.sqrt(outside)))  # sqrt of the RLS weight
        drive = xp.matmul(x, w_in)  # [B, T, N]
        v = xp.broadcast_to(v_rest, drive[:, 0].shape).copy()
        r = xp.zeros_like(v)
        for t in range(drive.shape[1]):
            y = r @ d
            v = v + a_mem * (v_rest - v + r @ w0 + y @ eta + drive[:, t] + bias)
            spikes = v >= v_th
            v = xp.where(spikes, net.v_reset, v)
            r = r * k_out + spikes / net.tau_out
            if t % rls_every:
                continue
            rows = r * weight[:, t, None]
            err = rows @ d - target[:, t] * weight[:, t, None]
            pr = p @ rows.T                                     # [N, B]
            gain = pr @ xp.linalg.inv(xp.eye(rows.shape[0]) + rows @ pr)
            d = d - gain @ err
            p = p - gain @ pr.T
            sq_err += float(xp.sum(err ** 2))
            count += err.size
    return d, p, sq_err / max(count, 1)


def train_force(task: Task, *, n_neurons: int | None = None, epochs: int | None = None, seed: int = 0,
                backend: Backend | str = "numpy",
                progress: Callable[[dict], None] | None = None) -> SpikingNetwork:
    """FORCE-train a spiking reservoir's decoder with output feedback; fold the feedback in."""
    started = time.perf_counter()
    be = get_backend(backend)
    n = neuron_budget(task, n_neurons)
    epochs = positive("epochs", epochs, DEFAULT_EPOCHS)
    rng = np.random.default_rng(seed)
    net = reservoir(task, n, rng, **HYPER)
    eta = rng.uniform(-RLS["feedback"], RLS["feedback"], (task.n_out, n))
    w0, eta_b = be.asarray(net.w_slow), be.asarray(eta)
    d = be.xp.zeros((n, task.n_out))
    p = be.xp.eye(n) / RLS["alpha"]
    best = (-1.0, 0, net)
    for epoch in range(epochs):
        d, p, mse = rls_epoch(net, w0, eta_b, d, p, task.train, rng.permutation(len(task.train)),
                              RLS["batch"], RLS["rls_every"], RLS["outside"], be)
        folded = fold(net.w_slow, be.to_numpy(d), eta, net)
        acc = float(evaluate(folded, task, data=task.val, backend=be)[0])
        if progress is not None:
            progress({"epoch": epoch, "loss": mse, "acc": acc})
        if acc > best[0]:
            best = (acc, epoch, folded)
    val_acc, best_epoch, folded = best
    return finish(folded, task, method="force", seed=seed, started=started, backend=be,
                  hyper={**HYPER, **RLS, "epochs": epochs}, extra={"val_accuracy": val_acc, "best_epoch": best_epoch})
