"""The virtual chips as the model's prediction for a board.

At a condition the virtual chips' accuracies are the predicted distribution of a board's
accuracy. A board's percentile is its place among them (ties count half); the prediction
band is their central 95 % widened by one test sample's resolution (1 / samples) on each
side, as accuracies come in steps of one sample. A board outside the band is one the model
does not predict; under the model at most 5 % of boards are, so with n boards the number
outside is at most Binomial(n, 0.05): the model-consistency test FAILs when more boards
fall outside than a one-sided binomial test at alpha = 0.01 allows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

BAND = 0.95           # central fraction of the virtual chips' accuracies
OUTSIDE_RATE = 1 - BAND
ALPHA = 0.01
MIN_BOARDS = 3        # the consistency test needs at least this many boards


@dataclass(frozen=True)
class Band:
    low: float
    high: float

    def contains(self, accuracy: float) -> bool:
        return self.low <= accuracy <= self.high


def prediction_band(virtual: np.ndarray, samples: int) -> Band:
    """The central `BAND` of the virtual chips' accuracies, widened by 1 / `samples` each side."""
    low, high = np.quantile(np.asarray(virtual, float), [(1 - BAND) / 2, (1 + BAND) / 2])
    step = 1.0 / samples
    return Band(max(0.0, float(low) - step), min(1.0, float(high) + step))


def percentile(virtual: np.ndarray, accuracy: float) -> float:
    """The percentage of virtual chips below `accuracy` (those equal to it count half)."""
    virtual = np.asarray(virtual, float)
    return float(100.0 * (np.sum(virtual < accuracy) + 0.5 * np.sum(virtual == accuracy)) / virtual.size)


def allowed_outside(boards: int) -> int:
    """The most boards that may fall outside the band before the model is rejected: the
    largest k with P(X >= k) >= ALPHA for X ~ Binomial(boards, OUTSIDE_RATE)."""
    k = 0
    while k < boards and binom.sf(k, boards, OUTSIDE_RATE) >= ALPHA:  # sf(k) = P(X >= k + 1)
        k += 1
    return k


def consistency_p_value(boards: int, outside: int) -> float:
    """P(X >= outside) under the model."""
    return float(binom.sf(outside - 1, boards, OUTSIDE_RATE)) if outside else 1.0
