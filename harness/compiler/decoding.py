"""Host-side readout: filter the output neurons' spikes with τ_out and apply w_out (+ bias).

Exactly the float model's readout (`sim.network`): r ← r·e^(−dt/τ_out) + s/τ_out,
y = r·w_out + bias (bias 0 unless a calibration fitted one). `refit` replaces w_out by a
ridge regression of the task targets on the filtered spikes the nominal chip produced on
training data (so it can absorb what compilation changed); `harness.calibration` fits
w_out and bias per chip. A shared readout (`harness.shared_readout`) also carries the
nominal chip's re-fit as `prior`, which a chip's calibration shrinks towards instead of w_out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.readout import ridge
from sim.trace_filter import exponential_filter

RIDGE = 1e-3  # regulariser relative to the mean feature energy


@dataclass(frozen=True)
class Decoder:
    neurons: np.ndarray  # [K] chip neuron ids read out
    w_out: np.ndarray    # [K, n_out]
    tau_out: float
    bias: np.ndarray | None = None  # [n_out] intercept (None: 0)
    prior: np.ndarray | None = None  # [K, n_out] the nominal chip's re-fit when w_out is shared (for calibration)

    def filtered(self, spikes: np.ndarray) -> np.ndarray:
        """Readout traces r [..., T, K] from spikes [..., T, K]."""
        return exponential_filter(spikes, self.tau_out)

    def decode(self, spikes: np.ndarray) -> np.ndarray:
        """Outputs y [..., T, n_out] from the output neurons' spikes [..., T, K]. The filter is
        linear, so the spikes are projected first and only n_out traces are filtered."""
        projected = np.asarray(spikes, np.float64) @ self.w_out
        return self.filtered(projected) + (0.0 if self.bias is None else self.bias)

    def refit(self, spikes: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> "Decoder":
        """A decoder whose w_out is the ridge fit of `targets` [S, T, n_out] on `spikes` [S, T, K]
        over the steps where `mask` [S, T] is set (those the task trains and judges)."""
        mask = np.asarray(mask, bool)
        y = np.asarray(targets, np.float64)[mask]
        return Decoder(self.neurons, ridge(self.masked_traces(spikes, mask), y, RIDGE), self.tau_out)

    def masked_traces(self, spikes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """`filtered(spikes)[mask]` [n, K] for spikes [S, T, K] and mask [S, T], filtered trial
        by trial up to its last masked step: never the whole [S, T, K] traces at once."""
        mask = np.asarray(mask, bool)
        traces = np.empty((int(mask.sum()), spikes.shape[-1]), np.float64)
        row = 0
        for trial_spikes, trial_mask in zip(spikes, mask):
            steps = int(np.flatnonzero(trial_mask)[-1]) + 1 if trial_mask.any() else 0
            kept = self.filtered(trial_spikes[None, :steps])[0][trial_mask[:steps]]
            traces[row:row + len(kept)] = kept
            row += len(kept)
        return traces

    def with_readout(self, w_out: np.ndarray, bias: np.ndarray) -> "Decoder":
        """The same neurons and filter with another readout."""
        return Decoder(self.neurons, np.asarray(w_out, np.float64), self.tau_out, np.asarray(bias, np.float64))

    def to_dict(self) -> dict[str, Any]:
        data = {"neurons": self.neurons.tolist(), "w_out": self.w_out.tolist(), "n_out": self.w_out.shape[1],
                "tau_out": self.tau_out}
        if self.bias is not None:
            data["bias"] = self.bias.tolist()
        if self.prior is not None:
            data["prior"] = self.prior.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Decoder":
        w_out = np.asarray(data["w_out"], np.float64).reshape(len(data["neurons"]), int(data["n_out"]))
        bias = None if data.get("bias") is None else np.asarray(data["bias"], np.float64).reshape(w_out.shape[1])
        prior = None if data.get("prior") is None else np.asarray(data["prior"], np.float64).reshape(w_out.shape)
        return cls(np.asarray(data["neurons"], np.int64), w_out, float(data["tau_out"]), bias, prior)
