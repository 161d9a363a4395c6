"""Fused CPU (Numba) kernels of the float LIF network: `sim.lif.simulate` and the ADS trial.

`sim.lif` and `sim.ads` call these for NumPy arrays (`fused`); CuPy, and the cases the
kernels do not cover (membrane noise, a chip-realised ADS network), run the array code
written against `xp`, which stays the reference. Both kernels walk time inside one
compiled loop and propagate spikes as events: a spike adds one row of w_fast, w_slow and
the readout, so no step multiplies the (mostly zero) spike vector by a dense matrix. The
readout of the filtered spikes r is kept the same way, y ← y·e^{−dt/τ_out} + s·w_out/τ_out,
which is r·w_out exactly (up to rounding).

The ADS trial also never forms W_slow while it learns. With c = η/B and
M_t = Σ_{t'<t} r_{t'}ᵀ e_{t'} [N, d], the weights at step t are W_slow + c·M_t D with a zero
diagonal, so the slow current splits into an event-driven part (spikes through W_slow,
less the diagonal term c·M_t[j]·D[:, j]) and Q_t D, where Q [B, d] low-pass filters
c·s_t M_t/τ_slow in the latent space; Q and the feedback k·e then reach the neurons in one
product (Q + k·e) D per step. A step costs two B×d×N products (that one and rᵀe)
instead of the array code's three B×N×N and three B×d×N; W_slow + c·M_T D is formed
once at the end of the trial.

Compiled on first use and cached on disk (`cache=True`, in `__pycache__` or
`NUMBA_CACHE_DIR`); `bench/bench_training.py --compile-cost` measures the first calls.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
from numba import njit, prange

_disabled = False


def fused(xp: Any) -> bool:
    """Whether arrays of module `xp` run on these kernels (NumPy, unless `disabled`)."""
    return xp is np and not _disabled


@contextmanager
def disabled() -> Iterator[None]:
    """Run the array code on NumPy as well (the reference, for tests and benchmarks)."""
    global _disabled
    previous, _disabled = _disabled, True
    try:
        yield
    finally:
        _disabled = previous


@njit(cache=True)
def _input_current(out, base, c, w_pos, w_neg):
    """out = base + c·w: w_pos carries the positive inputs, w_neg the negative ones."""
    for j in range(out.size):
        out[j] = base[j]
    for i in range(c.size):
        if c[i] != 0:
            w = w_pos if c[i] > 0 else w_neg
            for j in range(out.size):
                out[j] += c[i] * w[i, j]


@njit(cache=True)
def _integrate(v, current, i_fast, i_slow, a_mem, v_rest, alive):
    """v ← (v + dt/τ_mem·(v_rest − v + current + I_fast + I_slow))·alive (writes only v: vectorises)."""
    for j in range(v.size):
        v[j] = (v[j] + a_mem[j] * (v_rest[j] - v[j] + current[j] + i_fast[j] + i_slow[j])) * alive[j]


@njit(cache=True)
def _decay(a, k, tiny):
    """a ← a·k with the entries below `tiny` zeroed, so decaying currents never become denormals (slow)."""
    for j in range(a.size):
        value = a[j] * k[j]
        a[j] = value if abs(value) >= tiny else 0.0


@njit(cache=True)
def _scale(a, k):
    for j in range(a.size):
        a[j] *= k


@njit(cache=True)
def _add_by_sign(positive, negative, a):
    """The positive entries of `a` to `positive`, the negative ones to `negative`."""
    for j in range(a.size):
        if a[j] > 0:
            positive[j] += a[j]
        elif a[j] < 0:
            negative[j] += a[j]


@njit(cache=True)
def _fire(v, v_th, alive, v_reset, fired):
    """Reset the living neurons at threshold; their indices go to `fired`, their number is returned."""
    count = 0
    for j in range(v.size):
        if v[j] >= v_th[j] and alive[j] > 0:
            v[j] = v_reset
            fired[count] = j
            count += 1
    return count


@njit(cache=True)
def _add(out, a):
    for j in range(out.size):
        out[j] += a[j]


@njit(parallel=True, cache=True, nogil=True)
def lif_run(x, w_in, w_in_neg, bias, a_mem, v_rest, v_th, alive, k_fast, k_slow, w_fast, w_slow, w_out,
            v_reset, k_out, outputs, count, raster, split, k_fast_inh, k_slow_inh):
    """`sim.lif.simulate` without noise, each trial (draw d, sample s) a parallel task.

    x [S, T, n_in]; per draw: vectors [D, N], w_in, w_in_neg [D, n_in, N], w_fast and w_slow
    [D, N, N] already divided by their post-synaptic τ, w_out [D, N, n_out] divided by τ_out.
    With `split`, the negative (inhibitory) entries of w_fast and w_slow feed currents of
    their own that decay by k_fast_inh and k_slow_inh [D, N] (else these are not read).
    Fills outputs [D, S, T, n_out], count [D, S, N] and, when it is not empty, raster
    [D, S, T, N]. Currents decay before the step's spikes arrive (`simulate` adds them to
    the decayed currents); entries below 1e-30 are zeroed.
    """
    n_draws, n = bias.shape
    n_samples, n_steps, _ = x.shape
    for trial in prange(n_draws * n_samples):
        d, s = np.int64(trial) // n_samples, np.int64(trial) % n_samples  # (prange indices are unsigned)
        v = v_rest[d] * alive[d]
        i_fast, i_slow, current = np.zeros_like(v), np.zeros_like(v), np.empty_like(v)
        i_fast_inh, i_slow_inh = np.zeros_like(v), np.zeros_like(v)
        y = np.zeros(w_out.shape[2], v.dtype)
        fired = np.empty(n, np.int64)
        for t in range(n_steps):
            _input_current(current, bias[d], x[s, t], w_in[d], w_in_neg[d])
            if split:
                _add(current, i_fast_inh)
                _add(current, i_slow_inh)
                _decay(i_fast_inh, k_fast_inh[d], 1e-30)
                _decay(i_slow_inh, k_slow_inh[d], 1e-30)
            _integrate(v, current, i_fast, i_slow, a_mem[d], v_rest[d], alive[d])
            _decay(i_fast, k_fast[d], 1e-30)
            _decay(i_slow, k_slow[d], 1e-30)
            _scale(y, k_out)
            for i in range(_fire(v, v_th[d], alive[d], v_reset, fired)):
                j = fired[i]
                if split:
                    _add_by_sign(i_fast, i_fast_inh, w_fast[d, j])
                    _add_by_sign(i_slow, i_slow_inh, w_slow[d, j])
                else:
                    _add(i_fast, w_fast[d, j])
                    _add(i_slow, w_slow[d, j])
                _add(y, w_out[d, j])
                count[d, s, j] += 1
                if raster.size:
                    raster[d, s, t, j] = 1
            out = outputs[d, s, t]
            for q in range(y.size):
                out[q] = y[q]


@njit(cache=True, nogil=True)
def ads_run(x, latent, w_in, bias, enc, enc_rows, dec_rows, w_slow, w_fast, m, a_mem, v_rest, v_th, k_fast,
            k_slow, v_reset, k_out, rate, k, c_slow):
    """One ADS trial on a batch (`sim.ads.train_step`); returns (Σ‖e‖², Σ‖x‖²) every 10th step.

    x [B, T, n_in], latent [B, T, d]; w_in [n_in, N], bias [N]; enc = D [d, N], enc_rows = Dᵀ;
    dec_rows = W_dec/τ_out [N, d]; w_slow (zero diagonal) and w_fast [N, N] divided by their
    τ; m [N, d] (zeros) receives M_T = Σ_t r_tᵀ e_t. Vectors [N]: dt/τ_mem, v_rest, v_th and
    the decays per step of I_fast and I_slow (equal entries: one τ_slow for all); scalars:
    v_reset, the decay of r per step, rate = 1/τ_out, the feedback gain k and
    c_slow = η/(B·τ_slow). Currents below 1e-20 are zeroed.
    """
    n_batch, n_steps, _ = x.shape
    n, d = enc_rows.shape
    v = np.empty((n_batch, n), x.dtype)
    for b in range(n_batch):
        v[b] = v_rest
    i_slow, i_fast, r = np.zeros_like(v), np.zeros_like(v), np.zeros_like(v)
    q_slow, x_hat, e = np.zeros((n_batch, d), x.dtype), np.zeros((n_batch, d), x.dtype), np.zeros((n_batch, d), x.dtype)
    current, q, alive = np.empty(n, x.dtype), np.empty(d, x.dtype), np.ones(n, x.dtype)
    fired = np.empty(n, np.int64)
    err, power = 0.0, 0.0
    for t in range(n_steps):
        base = np.dot(q_slow + k * e, enc)  # the learnt slow current and the feedback
        for b in range(n_batch):
            vb, fast, slow, rb, x_b, q_b, e_b = v[b], i_fast[b], i_slow[b], r[b], x_hat[b], q_slow[b], e[b]
            _input_current(current, base[b], x[b, t], w_in, w_in)
            _add(current, bias)
            _integrate(vb, current, fast, slow, a_mem, v_rest, alive)
            _decay(fast, k_fast, 1e-20)
            _decay(slow, k_slow, 1e-20)
            _scale(rb, k_out)
            _scale(x_b, k_out)
            q[:] = 0.0
            for i in range(_fire(vb, v_th, alive, v_reset, fired)):
                j = fired[i]
                _add(slow, w_slow[j])
                _add(fast, w_fast[j])
                diagonal = 0.0
                for p in range(d):
                    diagonal += m[j, p] * enc_rows[j, p]
                slow[j] -= c_slow * diagonal  # W_slow's diagonal stays 0
                _add(q, m[j])
                _add(x_b, dec_rows[j])
                rb[j] += rate
            target = latent[b, t]
            for p in range(d):
                q_b[p] = q_b[p] * k_slow[0] + c_slow * q[p]  # Q decays like I_slow
                e_b[p] = target[p] - x_b[p]
            if t % 10 == 0:
                for p in range(d):
                    err += e_b[p] * e_b[p]
                    power += target[p] * target[p]
        m += np.dot(r.T, e)
    return err, power
