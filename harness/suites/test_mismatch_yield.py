"""Yield across mismatch levels: every virtual chip at each level (common random numbers,
so chip #k at 10 % and at 20 % differ only in scale)."""
from __future__ import annotations

from harness.suites.engine import Setup, check, evaluate_condition, parametrize, same_network

SUITE = "mismatch_yield"


def pytest_generate_tests(metafunc):
    parametrize(metafunc, SUITE, "levels", "level")


def test_mismatch_yield(harness, deployed_network, condition):
    setup = Setup(same_network(deployed_network.compiled), mismatch=condition.value)
    check(evaluate_condition(harness, SUITE, deployed_network, condition, setup))
