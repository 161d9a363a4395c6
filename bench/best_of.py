"""The timing rule every speed benchmark row follows, the vc1 kernels' and Rockpool's alike
(bench_rockpool.py imports this file from its own interpreter: standard library only)."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")
MIN_SAMPLES = 2
MIN_SAMPLE_S = 0.25


def best_of(run: Callable[[], T], repeats: int, budget_s: float,
            min_sample_s: float = MIN_SAMPLE_S) -> tuple[float, int, T]:
    """(seconds per call in the fastest sample, samples timed, the last call's result).

    A sample is back-to-back calls of `run` until it has lasted `min_sample_s` (one call
    when a call is longer), so that a short call and a long one are timed over windows of
    the same length: on a shared machine a few milliseconds can fall between other
    programs' work, which a long call cannot. Up to `repeats` samples, stopping early once
    they have taken `budget_s` seconds in all (never before MIN_SAMPLES, or `repeats` if
    fewer); the fastest sample is the one least disturbed by other work."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    per_call: list[float] = []
    spent = 0.0
    while len(per_call) < repeats and (len(per_call) < MIN_SAMPLES or spent < budget_s):
        calls, start = 0, time.perf_counter()
        while True:
            result = run()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_sample_s:
                break
        per_call.append(elapsed / calls)
        spent += elapsed
    return min(per_call), len(per_call), result
