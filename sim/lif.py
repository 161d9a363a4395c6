"""Batched forward simulation of `SpikingNetwork`s, vectorised over parameter draws.

Parameters carry a leading draw axis D (perturbed copies of one network: mismatch,
quantisation, neuron death); inputs carry a sample axis S. Every draw sees every
sample, so one call evaluates D × S trials on NumPy or CuPy (on NumPy, without noise,
by the fused kernel `sim.kernels.lif_run`, the trials in parallel).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import kernels
from sim.backend import Backend, get_backend
from sim.network import SpikingNetwork

DT_MS = 1.0


@dataclass
class LIFParams:
    """Backend arrays of a network with a draw axis: vectors [D, 1, N], matrices [D, N, N]."""

    tau_mem: Any
    tau_fast: Any
    tau_slow: Any
    v_th: Any
    v_rest: Any
    bias: Any
    w_in: Any    # [D, n_in, N]
    w_fast: Any  # [D, N, N]
    w_slow: Any  # [D, N, N]
    w_out: Any   # [D, N, n_out]
    v_reset: float
    tau_out: float
    alive: Any   # [D, 1, N] 1.0 for a living neuron, 0.0 for a dead one
    w_in_neg: Any = None  # [D, n_in, N] weights of the inputs' negative parts; None: w_in
    tau_fast_inh: Any = None  # [D, 1, N] τ of the currents of negative w_fast entries; None: tau_fast
    tau_slow_inh: Any = None  # [D, 1, N] the same for w_slow (a chip's inhibitory synapse types)

    @property
    def split(self) -> bool:
        """Whether inhibitory currents decay with τs of their own (`tau_fast_inh`, `tau_slow_inh`)."""
        return self.tau_fast_inh is not None or self.tau_slow_inh is not None

    @property
    def draws(self) -> int:
        return int(self.w_slow.shape[0])


def lif_params(net: SpikingNetwork, backend: Backend | str = "numpy", draws: int = 1,
               dtype: Any = np.float32) -> LIFParams:
    """Copy `net` to the backend, repeated `draws` times along a leading axis."""
    be = get_backend(backend)
    xp = be.xp

    def put(a: np.ndarray, vector: bool) -> Any:
        a = np.asarray(a, dtype=dtype)
        a = a[None, None, :] if vector else a[None]
        return xp.asarray(np.repeat(a, draws, axis=0))

    return LIFParams(
        tau_mem=put(net.tau_mem, True), tau_fast=put(net.tau_fast, True),
        tau_slow=put(net.tau_slow, True), v_th=put(net.v_th, True),
        v_rest=put(net.v_rest, True), bias=put(net.bias, True),
        w_in=put(net.w_in, False), w_fast=put(net.w_fast, False),
        w_slow=put(net.w_slow, False), w_out=put(net.w_out, False),
        v_reset=float(net.v_reset), tau_out=float(net.tau_out),
        alive=xp.ones((draws, 1, net.n_neurons), dtype=dtype),
    )


def _per_synapse_tau(w: Any, tau_exc: Any, tau_inh: Any, xp: Any) -> Any:
    """w [D, N, N] divided by the τ of each entry's current: tau_exc [D, 1, N] for w > 0, tau_inh for w < 0."""
    if tau_inh is tau_exc:
        return w / tau_exc  # divides each post-synaptic column
    return xp.where(w > 0, w / tau_exc, w / tau_inh)


def _flush(a: Any, xp: Any) -> Any:
    """Zero decayed currents below 1e-30 so they never become denormals (slow on CPUs)."""
    return xp.where(xp.abs(a) < 1e-30, 0.0, a).astype(a.dtype, copy=False)


def input_drive(params: LIFParams, x: Any, xp: Any) -> Any:
    """Input current [D, S, T, N] for inputs x [S, T, n_in]: x @ w_in, or, with `w_in_neg`,
    max(x, 0) @ w_in + min(x, 0) @ w_in_neg (a chip carries the two signs on different synapses)."""
    if params.w_in_neg is None:
        return xp.matmul(x[None], params.w_in[:, None])
    return (xp.matmul(xp.maximum(x, 0)[None], params.w_in[:, None])
            + xp.matmul(xp.minimum(x, 0)[None], params.w_in_neg[:, None]))


@dataclass
class LIFResult:
    outputs: Any       # [D, S, T, n_out] readout y
    spike_count: Any   # [D, S, N] spikes per neuron over the run


def simulate(params: LIFParams, inputs: Any, backend: Backend | str = "numpy",
             noise_std: float = 0.0, seed: int = 0, record_spikes: bool = False) -> LIFResult | tuple[LIFResult, Any]:
    """Run every draw on every sample of `inputs` [S, T, n_in].

    `noise_std` adds Gaussian membrane noise (per step, per neuron, in units of current).
    With `record_spikes` also returns the raster [D, S, T, N] as uint8. On NumPy without
    noise the fused kernel `sim.kernels.lif_run` runs it; otherwise the array code below.
    """
    be = get_backend(backend)
    xp = be.xp
    dtype = params.w_slow.dtype
    x = xp.asarray(inputs, dtype=dtype)
    n_samples, n_steps, _ = x.shape
    d, n = params.draws, params.w_slow.shape[-1]
    shape = (d, n_samples, n)
    count = xp.zeros(shape, dtype)
    a_mem = DT_MS / params.tau_mem
    tau_fast_inh = params.tau_fast if params.tau_fast_inh is None else params.tau_fast_inh
    tau_slow_inh = params.tau_slow if params.tau_slow_inh is None else params.tau_slow_inh
    k_fast, k_fast_inh = xp.exp(-DT_MS / params.tau_fast), xp.exp(-DT_MS / tau_fast_inh)
    k_slow, k_slow_inh = xp.exp(-DT_MS / params.tau_slow), xp.exp(-DT_MS / tau_slow_inh)
    k_out = float(np.exp(-DT_MS / params.tau_out))
    w_fast = _per_synapse_tau(params.w_fast, params.tau_fast, tau_fast_inh, xp)
    w_slow = _per_synapse_tau(params.w_slow, params.tau_slow, tau_slow_inh, xp)
    outputs = xp.zeros((d, n_samples, n_steps, params.w_out.shape[-1]), dtype)
    raster = xp.zeros((d, n_samples, n_steps, n), dtype=xp.uint8) if record_spikes else None
    if noise_std == 0 and kernels.fused(xp):
        vector = lambda a: np.ascontiguousarray(np.broadcast_to(a, (d, 1, n)).reshape(d, n), dtype)  # noqa: E731
        matrix = lambda a: np.ascontiguousarray(np.broadcast_to(a, (d, *a.shape[1:])), dtype)  # noqa: E731
        w_in = matrix(params.w_in)
        kernels.lif_run(np.ascontiguousarray(x), w_in, w_in if params.w_in_neg is None else matrix(params.w_in_neg),
                        vector(params.bias), vector(a_mem), vector(params.v_rest), vector(params.v_th),
                        vector(params.alive), vector(k_fast), vector(k_slow), matrix(w_fast), matrix(w_slow),
                        matrix(params.w_out / params.tau_out), dtype.type(params.v_reset), dtype.type(k_out),
                        outputs, count, np.zeros((0, 0, 0, 0), np.uint8) if raster is None else raster,
                        params.split, vector(k_fast_inh), vector(k_slow_inh))
    else:
        v = xp.broadcast_to(params.v_rest, shape).astype(dtype) * params.alive
        # synaptic currents as (current, decay per step, weights): fast and slow, or with `split`
        # the excitatory and the inhibitory part of each
        currents = [(xp.zeros(shape, dtype), k, w) for w, k in ((w_fast, k_fast), (w_slow, k_slow))]
        if params.split:
            currents = [(xp.zeros(shape, dtype), k, xp.where(sign * w > 0, w, 0.0).astype(dtype))
                        for w, k_exc, k_inh in ((w_fast, k_fast, k_fast_inh), (w_slow, k_slow, k_slow_inh))
                        for sign, k in ((1, k_exc), (-1, k_inh))]
        r = xp.zeros(shape, dtype)
        drive = input_drive(params, x, xp)
        rng = xp.random.default_rng(seed) if noise_std > 0 else None
        for t in range(n_steps):
            current = sum(c for c, _, _ in currents) + drive[:, :, t] + params.bias
            if rng is not None:
                current = current + noise_std * rng.standard_normal(shape, dtype=dtype)
            v = v + a_mem * (params.v_rest - v + current)
            spikes = (v >= params.v_th) & (params.alive > 0)
            s = spikes.astype(dtype)
            v = xp.where(spikes, params.v_reset, v) * params.alive
            currents = [(_flush(c * k + xp.matmul(s, w), xp), k, w) for c, k, w in currents]
            r = r * k_out + s / params.tau_out
            outputs[:, :, t] = xp.matmul(r, params.w_out)
            count += s
            if raster is not None:
                raster[:, :, t] = spikes
    result = LIFResult(outputs=outputs, spike_count=count)
    return (result, raster) if record_spikes else result
