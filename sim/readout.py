"""Linear readouts by ridge regression: one solver for every place that fits a readout.

The reservoir and BPTT-LIF baselines fit window-averaged rates, network ADS fits the
task targets on its filtered spikes r (the readout traces of `sim.network`), and the
compiler re-fits the host decoder on a chip's spikes. The regulariser is relative to the
mean feature energy, so one strength means the same for any scaling of the features.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sim.backend import Backend, get_backend
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from sim.tasks.base import Dataset, Task

STRENGTHS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
CHUNK_BYTES = 64 * 2**20  # filtered spikes [samples, T, N] simulated at once


def solve_ridge(gram: np.ndarray, cross: np.ndarray, strength: float) -> np.ndarray:
    """argmin_w |X w − Y|² + strength·mean(diag XᵀX)·|w|², from gram = XᵀX and cross = XᵀY."""
    reg = strength * max(float(np.trace(gram)) / max(gram.shape[0], 1), 1e-12)
    return np.linalg.solve(gram + reg * np.eye(gram.shape[0]), cross)


def ridge(features: np.ndarray, targets: np.ndarray, strength: float) -> np.ndarray:
    """The ridge readout of `targets` [S, n_out] on `features` [S, K]."""
    return solve_ridge(features.T @ features, features.T @ targets, strength)


def spike_moments(net: SpikingNetwork, data: Dataset, backend: Backend | str = "numpy",
                  w_in_neg: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(RᵀR, RᵀY) over the steps `data.mask` selects, where R are the network's filtered
    spikes and Y the targets; simulated in chunks of samples to bound memory. `w_in_neg`:
    separate input weights for negative inputs (a compiled network's realised float model)."""
    be = get_backend(backend)
    n = net.n_neurons
    probe = lif_params(net.replace(w_out=np.eye(n), meta={}), be)
    if w_in_neg is not None:
        probe.w_in_neg = be.xp.asarray(np.asarray(w_in_neg, probe.w_in.dtype)[None])
    per_chunk = max(1, CHUNK_BYTES // (4 * data.inputs.shape[1] * n))
    gram, cross = np.zeros((n, n)), np.zeros((n, data.targets.shape[-1]))
    for lo in range(0, len(data), per_chunk):
        r = be.to_numpy(simulate(probe, data.inputs[lo:lo + per_chunk], be).outputs[0])
        mask = data.mask[lo:lo + per_chunk]
        x, y = r[mask].astype(np.float64), data.targets[lo:lo + per_chunk][mask].astype(np.float64)
        gram += x.T @ x
        cross += x.T @ y
    return gram, cross


def fit_spike_readout(net: SpikingNetwork, task: Task, backend: Backend | str = "numpy",
                      strengths: Sequence[float] = STRENGTHS) -> tuple[np.ndarray, float, float]:
    """(w_out, strength, validation accuracy): ridge fits of the task targets on the filtered
    spikes of the training split, the strength chosen on the validation split (ties go to
    the stronger ridge)."""
    be = get_backend(backend)
    gram, cross = spike_moments(net, task.train, be)
    candidates = [solve_ridge(gram, cross, s) for s in strengths]
    n_out = cross.shape[1]
    probe = lif_params(net.replace(w_out=np.concatenate(candidates, axis=1), meta={}), be)
    outputs = be.to_numpy(simulate(probe, task.val.inputs, be).outputs[0])
    scores = [float(task.accuracy(outputs[..., i * n_out:(i + 1) * n_out], task.val)) for i in range(len(strengths))]
    best = max(range(len(strengths)), key=lambda i: (scores[i], strengths[i]))
    return candidates[best], float(strengths[best]), scores[best]
