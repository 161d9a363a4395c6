"""The timing rule of the speed benchmarks (bench/best_of.py), on a fake clock."""
import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("best_of", Path(__file__).parents[1] / "bench" / "best_of.py")
best_of_module = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(best_of_module)


@pytest.fixture
def fake_run(monkeypatch):
    """A call that takes the next of `durations` seconds on a fake perf_counter, and returns its index."""
    durations, now, calls = [], [0.0], []
    monkeypatch.setattr(best_of_module.time, "perf_counter", lambda: now[0])

    def run():
        now[0] += durations[len(calls)]
        calls.append(None)
        return len(calls) - 1
    return durations, run


@pytest.mark.parametrize("repeats, budget, samples, fastest", [
    (5, 100.0, 5, 1.0),  # every sample fits the budget: the fastest of all five
    (5, 0.0, 2, 1.0),    # budget spent at once: still two samples
    (5, 5.5, 3, 1.0),    # 3 + 1 < 5.5 s, so a third sample; then 6 s >= 5.5 s
    (1, 100.0, 1, 3.0),  # one sample asked for: one
])
def test_long_calls_are_one_sample_each_until_the_repeats_or_the_budget(fake_run, repeats, budget, samples, fastest):
    durations, run = fake_run
    durations += [3.0, 1.0, 2.0, 5.0, 4.0]
    assert best_of_module.best_of(run, repeats, budget, min_sample_s=0.5) == (fastest, samples, samples - 1)


def test_short_calls_are_timed_together_for_the_sample_length(fake_run):
    durations, run = fake_run
    durations += [0.1] * 5 + [0.05] * 10  # a sample of five calls of 0.1 s, then one of ten of 0.05 s
    per_call, samples, last = best_of_module.best_of(run, 2, 0.0, min_sample_s=0.5)
    assert (samples, last) == (2, 14) and per_call == pytest.approx(0.05)


def test_best_of_refuses_no_runs():
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        best_of_module.best_of(lambda: None, 0, 1.0)
