"""Bias DACs: value = fine × 2**coarse, fine 0..255, coarse 0..15 (`idc` adds a sign bit)."""
from __future__ import annotations

import numpy as np

from sim.chip.spec import DAC_COARSE_MAX, DAC_FINE_MAX


def dac_value(fine: np.ndarray | int, coarse: np.ndarray | int, negative: np.ndarray | int = 0) -> np.ndarray:
    """The nominal integer value of DAC codes."""
    value = np.asarray(fine, np.int64) << np.asarray(coarse, np.int64)
    return np.where(np.asarray(negative, bool), -value, value)


def dac_code(value: float) -> tuple[int, int, int]:
    """The (fine, coarse, negative) code whose value is closest to `value`.

    Among equally close codes the one with the smallest coarse (finest step) wins.
    """
    magnitude = abs(float(value))
    best = (0, 0)
    best_error = magnitude
    for coarse in range(DAC_COARSE_MAX + 1):
        fine = min(int(round(magnitude / 2**coarse)), DAC_FINE_MAX)
        error = abs(fine * 2**coarse - magnitude)
        if error < best_error:
            best, best_error = (fine, coarse), error
    return best[0], best[1], int(value < 0 and best[0] > 0)


def nearest_code(value: float, lo: int, hi: int) -> tuple[int, int]:
    """The (fine, coarse) whose value is nearest `value` clipped to [lo, hi], within [lo, hi].

    Unlike `dac_code`, never rounds past the range (65535 would round to 128 × 2**9).
    """
    target = float(np.clip(value, lo, hi))
    best, best_error = (0, 0), np.inf
    for coarse in range(DAC_COARSE_MAX + 1):
        step = 2**coarse
        for fine in sorted({int(np.floor(target / step)), int(np.ceil(target / step))}):
            fine = min(max(fine, 0), DAC_FINE_MAX)
            error = abs(fine * step - target)
            if lo <= fine * step <= hi and error < best_error:
                best, best_error = (fine, coarse), error
    return best
