"""Fractions written as percentages, as the report and the console show them."""
from __future__ import annotations

from typing import Sequence


def percent(value: float) -> str:
    """0.953 -> '95.3%'."""
    return f"{100 * value:.1f}%"


def percent_range(low: float, high: float) -> str:
    """(0.9, 1.0) -> '90.0%–100.0%'."""
    return f"{percent(low)}–{percent(high)}"


def percent_with_range(value: float, interval: Sequence[float] | None) -> str:
    """'95.3% [90.0%–100.0%]'; the value alone when there is no interval."""
    return percent(value) + (f" [{percent_range(*interval)}]" if interval else "")
