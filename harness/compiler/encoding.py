"""Task inputs → chip input channels: signed rate coding with a sigma-delta quantiser.

Input i feeds a positive channel with max(c, 0)·scale_i and, if the training data has
negative values, a negative channel with max(−c, 0)·scale_i, where scale_i = 15 / max|c_i|
(counts per step per unit input; an all-zero input gets channels but never fires).
Each channel's rate is turned into integer counts 0..15 per step by first-order sigma-delta
modulation: acc += rate; count = floor(acc); acc −= count (from acc = 0, deterministic;
the running count never drifts from the running integral by more than one). An optional
bias channel fires at a constant `bias_rate` ≤ 1 count per step (sigma-delta as well) and
carries per-neuron DC drive. The compiler may lower `scale` and `bias_rate` (see weights).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.compiler.errors import CompileError
from sim.chip.spec import INPUT_COUNT_MAX, ChipSpec

NONE = -1


@dataclass
class Encoder:
    positive: np.ndarray  # [n_in] channel of each input's positive part
    negative: np.ndarray  # [n_in] channel of its negative part, NONE if inputs are never negative
    scale: np.ndarray     # [n_in] counts per step per unit input
    bias_channel: int     # NONE when no channel carries DC drive
    n_channels: int       # spec inputs M
    bias_rate: float = 1.0  # counts per step on the bias channel

    @classmethod
    def fit(cls, n_in: int, spec: ChipSpec, inputs: np.ndarray | None, bias: bool) -> "Encoder":
        """Channels for `n_in` inputs, scaled to the data `inputs` [S, T, n_in] (None: |c| ≤ 1, signed)."""
        if inputs is None:
            peak, signed = np.ones(n_in), np.ones(n_in, bool)
        else:
            x = np.asarray(inputs, np.float64).reshape(-1, n_in)
            peak, signed = np.abs(x).max(0), (x < 0).any(0)
        needed = n_in + int(signed.sum()) + int(bias)
        if needed > spec.inputs:
            raise CompileError(f"network has {n_in} inputs ({int(signed.sum())} signed); encoded as one channel per "
                               f"sign{' plus a bias channel' if bias else ''} they need {needed} input channels, "
                               f"spec {spec.name} has {spec.inputs}")
        positive = np.arange(n_in)
        negative = np.full(n_in, NONE)
        negative[signed] = n_in + np.arange(int(signed.sum()))
        scale = np.where(peak > 0, INPUT_COUNT_MAX / np.where(peak > 0, peak, 1.0), 1.0)
        return cls(positive, negative, scale, needed - 1 if bias else NONE, spec.inputs)

    def rates(self, inputs: np.ndarray) -> np.ndarray:
        """Desired counts per step [..., T, M] (real-valued, clipped to 0..15)."""
        x = np.asarray(inputs, np.float64) * self.scale
        out = np.zeros((*x.shape[:-1], self.n_channels))
        out[..., self.positive] = np.maximum(x, 0)
        signed = self.negative != NONE
        out[..., self.negative[signed]] = np.maximum(-x[..., signed], 0)
        if self.bias_channel != NONE:
            out[..., self.bias_channel] = self.bias_rate
        return np.clip(out, 0, INPUT_COUNT_MAX)

    def encode(self, inputs: np.ndarray) -> np.ndarray:
        """uint8 counts [..., T, M] for task inputs [..., T, n_in]."""
        rates = self.rates(inputs)
        counts = np.zeros(rates.shape, np.uint8)
        acc = np.zeros(rates.shape[:-2] + rates.shape[-1:])
        for t in range(rates.shape[-2]):
            acc += rates[..., t, :]
            count = np.floor(acc + 1e-9)
            acc -= count
            counts[..., t, :] = count
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"positive": self.positive.tolist(), "negative": self.negative.tolist(), "scale": self.scale.tolist(),
                "bias_channel": self.bias_channel, "n_channels": self.n_channels, "bias_rate": self.bias_rate}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Encoder":
        return cls(np.asarray(data["positive"], np.int64), np.asarray(data["negative"], np.int64),
                   np.asarray(data["scale"], np.float64), int(data["bias_channel"]), int(data["n_channels"]),
                   float(data["bias_rate"]))
