"""The float network in chip-ready form: threshold 1, reset 0, one constant drive.

With u = (v − v_reset) / (v_th − v_reset) the float dynamics of `sim.network` become
    u ← u + dt/τ_mem · (drive − u + g·I),   spike when u ≥ 1, then u = 0,
with g = 1 / (v_th − v_reset) and drive = g · (v_rest − v_reset + bias). The chip resets
to 0 and counts its threshold in integers, so per-neuron thresholds fold into `g`,
which scales every current into that neuron (its column of w_in, w_fast, w_slow).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.compiler.errors import CompileError
from sim.network import SpikingNetwork


@dataclass(frozen=True)
class Normalised:
    """Per-neuron quantities [N] of the normalised network."""

    gain: np.ndarray      # g: float current → normalised current
    drive: np.ndarray     # constant normalised input (resting level)
    tau_mem: np.ndarray
    tau_fast: np.ndarray
    tau_slow: np.ndarray


def normalise(net: SpikingNetwork) -> Normalised:
    """Fold thresholds, resets and resting levels into per-neuron gains and drives."""
    span = net.v_th - net.v_reset
    if np.any(span <= 0):
        bad = int(np.flatnonzero(span <= 0)[0])
        raise CompileError(f"unsupported network: neuron {bad} has v_th {net.v_th[bad]:g} <= v_reset "
                           f"{net.v_reset:g}; the chip needs a threshold above the reset level")
    gain = 1.0 / span
    return Normalised(gain=gain, drive=gain * (net.v_rest - net.v_reset + net.bias),
                      tau_mem=net.tau_mem, tau_fast=net.tau_fast, tau_slow=net.tau_slow)
