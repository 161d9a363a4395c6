"""Yield with exact confidence: Clopper-Pearson intervals and the yield rule.

A yield is k passing chips of n. Its two-sided 95 % interval is the exact (Clopper-Pearson)
one; the one-sided 95 % lower confidence bound is what the `lower_bound` rule (the
default) compares with the yield threshold, so a verdict of PASS says the population's
yield meets the threshold with 95 % confidence, not just that this sample of chips did.
The `point` rule compares the observed fraction, as before.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import beta

from harness.results import FRACTION, Measurement

CONFIDENCE = 0.95


@dataclass(frozen=True)
class YieldEstimate:
    """k of n chips passed, with the exact interval and the one-sided lower bound."""

    passed: int
    chips: int

    @property
    def value(self) -> float:
        return self.passed / self.chips if self.chips else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The exact two-sided `CONFIDENCE` interval (Clopper-Pearson)."""
        k, n, alpha = self.passed, self.chips, 1 - CONFIDENCE
        if not n:
            return math.nan, math.nan
        low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
        return low, high

    @property
    def lower_bound(self) -> float:
        """The exact one-sided `CONFIDENCE` lower confidence bound."""
        k, n = self.passed, self.chips
        if not n:
            return math.nan
        return 0.0 if k == 0 else float(beta.ppf(1 - CONFIDENCE, k, n - k + 1))

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {"passed": self.passed, "chips": self.chips, "value": self.value, "ci95": [low, high],
                "lower_bound95": self.lower_bound}


def estimate(accuracies: Any, spec_limit: float) -> YieldEstimate:
    """The yield of chips with `accuracies` against the accuracy spec."""
    values = list(accuracies)
    return YieldEstimate(sum(1 for a in values if a >= spec_limit), len(values))


def fewest_chips(threshold: float) -> int:
    """The fewest chips, all passing, whose lower confidence bound meets `threshold`."""
    if threshold <= 0:
        return 1
    if threshold >= 1:
        raise ValueError("no number of chips shows a yield of 100 % with confidence")
    return math.ceil(math.log(1 - CONFIDENCE) / math.log(threshold))


def yield_measurements(y: YieldEstimate, threshold: float | None, rule: str,
                       name: str = "yield") -> tuple[Any, ...]:
    """The yield, its lower confidence bound and its interval as measurements; the one the
    rule judges carries the `threshold` (None: characterised, no limit)."""
    low, high = y.interval
    return (Measurement(name, y.value, FRACTION, low=threshold if rule == "point" else None),
            Measurement(f"{name}_lower_bound", y.lower_bound, FRACTION,
                        low=threshold if rule == "lower_bound" else None),
            Measurement(f"{name}_ci_low", low, FRACTION), Measurement(f"{name}_ci_high", high, FRACTION))
