"""Host-side readout: filter the output neurons' spikes with τ_out and apply w_out (+ bias).

Exactly the float model's readout (`sim.network`): r ← r·e^(−dt/τ_out) + s/τ_out,
y = r·w_out + bias (bias 0 unless a calibration fitted one). `refit` replaces w_out by a
ridge regression of the task targets on the filtered spikes the nominal chip produced on
training data (so it can absorb what compilation changed); `harness.calibration` fits
w_out and bias per chip. A shared readout on the plain traces (`harness.shared_readout`)
also carries the nominal chip's re-fit as `prior`, which a chip's calibration shrinks
towards instead of w_out. A rate-normalised decoder (`normalised`, harness.shared_readout's
"shared-normalised" readout, the default) divides each neuron's trace by that neuron's own
mean rate from the trial's start to the step (spikes per step, causal) plus RATE_EPS: a
gain that mismatch puts on one neuron's rate cancels, with nothing fitted on the chip.
A calibrated readout (`with_readout`) reads the same features as the decoder it replaces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.readout import ridge
from sim.trace_filter import exponential_filter, normalised_projection, running_mean

RIDGE = 1e-3  # regulariser relative to the mean feature energy
RATE_EPS = 1e-3  # spikes per step (1 Hz at 1 ms steps) added to a neuron's rate before it divides its trace


@dataclass(frozen=True)
class Decoder:
    neurons: np.ndarray  # [K] chip neuron ids read out
    w_out: np.ndarray    # [K, n_out]
    tau_out: float
    bias: np.ndarray | None = None  # [n_out] intercept (None: 0)
    prior: np.ndarray | None = None  # [K, n_out] the nominal chip's re-fit when w_out is shared (for calibration)
    normalised: bool = False  # each trace divided by its own neuron's mean rate so far (module doc)

    def filtered(self, spikes: np.ndarray) -> np.ndarray:
        """Readout traces r [..., T, K] from spikes [..., T, K]."""
        return exponential_filter(spikes, self.tau_out)

    def features(self, spikes: np.ndarray) -> np.ndarray:
        """What w_out reads [..., T, K]: the traces, each divided by its neuron's `rate` + RATE_EPS
        where `normalised`."""
        traces = self.filtered(spikes)
        return traces / (self.rate(spikes) + RATE_EPS) if self.normalised else traces

    @staticmethod
    def rate(spikes: np.ndarray) -> np.ndarray:
        """[..., T, K] each neuron's mean rate from step 0 to each step (spikes per step)."""
        return running_mean(spikes)

    def decode(self, spikes: np.ndarray) -> np.ndarray:
        """Outputs y [..., T, n_out] from the output neurons' spikes [..., T, K]. The filter is
        linear, so plain traces are projected first and only n_out traces are filtered; a
        normalised decoder's features are projected as they are made, in one compiled pass
        (`features` @ w_out up to the order of the sum)."""
        bias = 0.0 if self.bias is None else self.bias
        if self.normalised:
            return normalised_projection(spikes, self.tau_out, RATE_EPS, self.w_out) + bias
        return self.filtered(np.asarray(spikes, np.float64) @ self.w_out) + bias

    def refit(self, spikes: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> "Decoder":
        """A decoder whose w_out is the ridge fit of `targets` [S, T, n_out] on `spikes` [S, T, K]
        over the steps where `mask` [S, T] is set (those the task trains and judges)."""
        mask = np.asarray(mask, bool)
        y = np.asarray(targets, np.float64)[mask]
        return Decoder(self.neurons, ridge(self.masked_traces(spikes, mask), y, RIDGE), self.tau_out,
                       normalised=self.normalised)

    def masked_traces(self, spikes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """`features(spikes)[mask]` [n, K] for spikes [S, T, K] and mask [S, T], trial by trial
        up to its last masked step: never the whole [S, T, K] traces at once."""
        mask = np.asarray(mask, bool)
        traces = np.empty((int(mask.sum()), spikes.shape[-1]), np.float64)
        row = 0
        for trial_spikes, trial_mask in zip(spikes, mask):
            steps = int(np.flatnonzero(trial_mask)[-1]) + 1 if trial_mask.any() else 0
            kept = self.features(trial_spikes[None, :steps])[0][trial_mask[:steps]]
            traces[row:row + len(kept)] = kept
            row += len(kept)
        return traces

    def with_readout(self, w_out: np.ndarray, bias: np.ndarray) -> "Decoder":
        """The same neurons, filter and features (plain or normalised) with another readout."""
        return Decoder(self.neurons, np.asarray(w_out, np.float64), self.tau_out, np.asarray(bias, np.float64),
                       normalised=self.normalised)

    def to_dict(self) -> dict[str, Any]:
        data = {"neurons": self.neurons.tolist(), "w_out": self.w_out.tolist(), "n_out": self.w_out.shape[1],
                "tau_out": self.tau_out}
        if self.bias is not None:
            data["bias"] = self.bias.tolist()
        if self.prior is not None:
            data["prior"] = self.prior.tolist()
        if self.normalised:
            data["normalised"] = "own-rate"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Decoder":
        w_out = np.asarray(data["w_out"], np.float64).reshape(len(data["neurons"]), int(data["n_out"]))
        bias = None if data.get("bias") is None else np.asarray(data["bias"], np.float64).reshape(w_out.shape[1])
        prior = None if data.get("prior") is None else np.asarray(data["prior"], np.float64).reshape(w_out.shape)
        normalised = data.get("normalised")
        if normalised not in (None, "own-rate"):
            raise ValueError(f"decoder.normalised: {normalised!r} is not a known normalisation (only 'own-rate')")
        return cls(np.asarray(data["neurons"], np.int64), w_out, float(data["tau_out"]), bias, prior,
                   normalised == "own-rate")
