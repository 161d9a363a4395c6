"""Pieces shared by the baselines: neuron budgets, the random LIF reservoir, readout
features, and the metadata every trained network carries."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from sim.backend import Backend, get_backend
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from sim.perturb import TRIAL_BYTES, ChipDraw, apply_chip_mismatch, nominal_accuracy
from sim.tasks.base import Dataset, Task

DEFAULT_NEURONS = {"xor": 320, "keyword": 768}  # the paper's ADS budgets
FALLBACK_NEURONS = 320


def neuron_budget(task: Task, n_neurons: int | None) -> int:
    """`n_neurons`, or the paper's budget for the task (320 when it names none)."""
    n = DEFAULT_NEURONS.get(task.name, FALLBACK_NEURONS) if n_neurons is None else n_neurons
    if int(n) != n or n < 2:
        raise ValueError(f"n_neurons must be an integer >= 2, got {n_neurons!r}")
    return int(n)


def positive(name: str, value: int | None, default: int) -> int:
    """`value` (default when None) checked to be a positive integer."""
    value = default if value is None else value
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def reservoir(task: Task, n: int, rng: np.random.Generator, *, gain: float, density: float,
              input_scale: float, bias_range: tuple[float, float], tau_mem: float = 20.0,
              tau_syn: float = 70.0) -> SpikingNetwork:
    """A random sparse recurrent LIF network with slow synapses (tau_slow = tau_out).

    Recurrent weights are N(0, (gain / sqrt(density·N))²) on a random `density` of
    pairs, no self-connections; the readout is zero.
    """
    w = rng.normal(0.0, gain / np.sqrt(density * n), (n, n)) * (rng.random((n, n)) < density)
    np.fill_diagonal(w, 0.0)
    return SpikingNetwork(
        tau_mem=np.full(n, tau_mem), tau_fast=np.ones(n), tau_slow=np.full(n, tau_syn),
        v_th=np.ones(n), v_rest=np.zeros(n), bias=rng.uniform(*bias_range, n),
        w_in=rng.normal(0.0, input_scale, (task.n_in, n)), w_fast=np.zeros((n, n)), w_slow=w,
        w_out=np.zeros((n, task.n_out)), v_reset=0.0, tau_out=tau_syn)


def window_rates(net: SpikingNetwork, data: Dataset, backend: Backend | str = "numpy",
                 chips: ChipDraw | None = None) -> np.ndarray:
    """Filtered spike trains r averaged over each sample's masked steps: [S, N], or
    [D·S, N] (chip-major) on the D chips of `chips` (`sim.perturb.ChipDraw`, on the backend).

    The task's decision is the masked mean of `r @ w_out`, i.e. these features times
    `w_out`. Computed by `sim.lif.simulate` with an identity readout.
    """
    be = get_backend(backend)
    draws = 1 if chips is None else int(chips.dmem.shape[0])
    probe = lif_params(net.replace(w_out=np.eye(net.n_neurons)), be, draws)
    if chips is not None:
        apply_chip_mismatch(probe, chips, be.xp)
    n_steps = data.inputs.shape[1]
    chunk = max(1, TRIAL_BYTES // (8 * n_steps * net.n_neurons * draws))
    mask = data.mask.astype(np.float32)
    weights = mask / np.maximum(mask.sum(1, keepdims=True), 1.0)
    feats = []
    for s in range(0, len(data), chunk):
        r = simulate(probe, data.inputs[s:s + chunk], be).outputs  # [D, s, T, N]
        feats.append(be.to_numpy(be.xp.einsum("dstn,st->dsn", r, be.asarray(weights[s:s + chunk]))))
    return np.concatenate(feats, axis=1).reshape(-1, net.n_neurons).astype(np.float64)


def mean_output_accuracy(task: Task, mean_outputs: np.ndarray, data: Dataset) -> float:
    """Task accuracy when each sample's output is the constant `mean_outputs` [S, n_out]."""
    outputs = np.broadcast_to(mean_outputs[:, None, :], (len(data), data.inputs.shape[1], mean_outputs.shape[1]))
    return float(task.accuracy(outputs, data))


def finish(net: SpikingNetwork, task: Task, *, method: str, seed: int, hyper: dict[str, Any],
           started: float, backend: Backend | str, extra: dict[str, Any] | None = None) -> SpikingNetwork:
    """Attach the metadata record, with the test accuracy measured by `sim.lif.simulate`."""
    train_time = time.perf_counter() - started
    metrics = {"test_accuracy": nominal_accuracy(net, task, backend), "train_time_s": train_time, **(extra or {})}
    net.meta = {"task": task.name, "task_meta": dict(task.meta or {}), "method": method, "seed": int(seed),
                "n_neurons": net.n_neurons, "hyper": hyper, "metrics": metrics}
    return net
