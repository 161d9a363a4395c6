"""The readout filter along the step axis, compiled: r[t] = e^(−1/τ)·r[t−1] + x[t]/τ, each
channel's running mean (the rate a normalised readout divides by), and the two fused into a
normalised readout's projection.

The same operations in the same order as `scipy.signal.lfilter([1/τ], [1, −e^(−1/τ)], x,
axis=-2)` (a product each, then their sum; no fused multiply-add), so the same bits
(tests/test_trace_filter.py), without lfilter's strided walk over the channels: channels
are the inner, contiguous loop. Spikes may come as bool: each is read as 0.0 or 1.0.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _filter(x, gain, decay, out):
    """out[s, t, j] = decay · out[s, t−1, j] + gain · x[s, t, j], from 0 before t = 0."""
    series, steps, channels = x.shape
    for s in range(series):
        for j in range(channels):
            out[s, 0, j] = decay * 0.0 + gain * np.float64(x[s, 0, j])
        for t in range(1, steps):
            for j in range(channels):
                out[s, t, j] = decay * out[s, t - 1, j] + gain * np.float64(x[s, t, j])


@njit(cache=True, nogil=True)
def _running_mean(x, out):
    """out[s, t, j] = (x[s, 0, j] + … + x[s, t, j]) / (t + 1), summed in step order."""
    series, steps, channels = x.shape
    total = np.zeros(channels)
    for s in range(series):
        total[:] = 0.0
        for t in range(steps):
            for j in range(channels):
                total[j] += np.float64(x[s, t, j])
                out[s, t, j] = total[j] / np.float64(t + 1)


@njit(cache=True, nogil=True)
def _normalised_projection(x, gain, decay, eps, w, out):
    """out[s, t, o] = Σ_j w[j, o] · r[s, t, j] / (mean of x[s, :t+1, j] + eps), r the filtered x.
    A channel that has not spiked yet has r = 0 and adds nothing."""
    series, steps, channels = x.shape
    trace, total = np.zeros(channels), np.zeros(channels)
    for s in range(series):
        trace[:] = 0.0
        total[:] = 0.0
        for t in range(steps):
            out[s, t, :] = 0.0
            for j in range(channels):
                spike = np.float64(x[s, t, j])
                trace[j] = decay * trace[j] + gain * spike
                total[j] += spike
                if total[j] == 0.0:
                    continue
                feature = trace[j] / (total[j] / np.float64(t + 1) + eps)
                for o in range(w.shape[1]):
                    out[s, t, o] += w[j, o] * feature


def normalised_projection(x: np.ndarray, tau: float, eps: float, w: np.ndarray) -> np.ndarray:
    """[..., T, n_out]: each channel of `x` [..., T, K] filtered with time constant `tau` steps,
    divided by its running mean + `eps`, projected by `w` [K, n_out]; in one pass, none of the
    [..., T, K] features held."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"normalised_projection needs [..., T, {w.shape[0]}]; got shape {x.shape}")
    if x.dtype != np.bool_ and x.dtype != np.float64:
        x = x.astype(np.float64)
    flat = np.ascontiguousarray(x.reshape(-1, *x.shape[-2:]))
    out = np.empty((*flat.shape[:2], w.shape[1]), np.float64)
    _normalised_projection(flat, 1.0 / tau, float(np.exp(-1.0 / tau)), float(eps),
                           np.ascontiguousarray(w, np.float64), out)
    return out.reshape(*x.shape[:-1], w.shape[1])


def running_mean(x: np.ndarray) -> np.ndarray:
    """Each channel's mean [..., T, K] float64 of `x` [..., T, K] (numbers or bool) from step 0 to
    each step: the bits of `np.cumsum(x, axis=-2, dtype=float64) / (t + 1)`, without its strided walk."""
    return _along_steps("running_mean", x, _running_mean)


def exponential_filter(x: np.ndarray, tau: float) -> np.ndarray:
    """Traces [..., T, K] float64 of `x` [..., T, K] (numbers or bool) with time constant `tau` steps."""
    return _along_steps("exponential_filter", x, _filter, 1.0 / tau, float(np.exp(-1.0 / tau)))


def _along_steps(name: str, x: np.ndarray, kernel: Callable[..., None], *args: float) -> np.ndarray:
    """`kernel(series [S, T, K], *args, out)` on `x` [..., T, K] flattened to series, as float64."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} needs [..., T, K]; got shape {x.shape}")
    if x.dtype != np.bool_ and x.dtype != np.float64:
        x = x.astype(np.float64)
    flat = np.ascontiguousarray(x.reshape(-1, *x.shape[-2:]))
    out = np.empty(flat.shape, np.float64)
    kernel(flat, *args, out)
    return out.reshape(x.shape)
