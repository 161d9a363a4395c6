"""The timing rule every speed benchmark row follows, the vc1 kernels' and Rockpool's alike
(bench_rockpool.py imports this file from its own interpreter: NumPy-free, standard library only)."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")
MIN_RUNS = 2


def best_of(run: Callable[[], T], repeats: int, budget_s: float) -> tuple[float, int, T]:
    """(seconds of the fastest call, calls made, the last call's result) of up to `repeats`
    calls of `run`, stopping early once the calls have taken `budget_s` seconds in all (but
    never before MIN_RUNS calls, or `repeats` if fewer): the fastest call is the one least
    disturbed by other work on a shared machine, and a long call is already an average."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    times: list[float] = []
    while len(times) < repeats and (len(times) < MIN_RUNS or sum(times) < budget_s):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), len(times), result
