"""The timing rule of the speed benchmarks (bench/best_of.py), on a fake clock."""
import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("best_of", Path(__file__).parents[1] / "bench" / "best_of.py")
best_of_module = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(best_of_module)


@pytest.fixture
def clock(monkeypatch):
    """perf_counter advances by the next duration each time a call starts; run() returns its index."""
    durations, now, calls = [3.0, 1.0, 2.0, 5.0, 4.0], [0.0], []
    reads = iter(range(100))

    def perf_counter():
        read = next(reads)
        if read % 2:  # the end of a call
            now[0] += durations[read // 2]
        return now[0]

    monkeypatch.setattr(best_of_module.time, "perf_counter", perf_counter)
    return lambda: calls.append(len(calls)) or len(calls) - 1


@pytest.mark.parametrize("repeats, budget, runs, fastest", [
    (5, 100.0, 5, 1.0),  # every run fits the budget: the fastest of all five
    (5, 0.0, 2, 1.0),    # budget spent at once: still two runs
    (5, 5.5, 3, 1.0),    # 3 + 1 < 5.5 s, so a third run; then 6 s >= 5.5 s
    (1, 100.0, 1, 3.0),  # one run asked for: one run
])
def test_best_of_stops_at_the_repeats_or_the_budget(clock, repeats, budget, runs, fastest):
    elapsed, made, last = best_of_module.best_of(clock, repeats, budget)
    assert (elapsed, made, last) == (fastest, runs, runs - 1)


def test_best_of_refuses_no_runs():
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        best_of_module.best_of(lambda: None, 0, 1.0)
