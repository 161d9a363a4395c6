"""Yield as the fidelity benches print it: chips at accuracy >= 75 %, with the median."""
from __future__ import annotations

import numpy as np

YIELD_AT = 0.75  # the run's default accuracy spec


def yield_of(accuracies: np.ndarray) -> float:
    """Fraction of chips whose accuracy meets YIELD_AT."""
    return float(np.mean(np.asarray(accuracies) >= YIELD_AT))


def cell(accuracies: np.ndarray) -> str:
    """"Y % (median)" for a table cell."""
    return f"{100 * yield_of(accuracies):.0f} % ({100 * np.median(accuracies):.1f})"
