"""Yield with CAM weights of limited resolution: the network compiled with at most
2**(bits-1) - 1 connections per (source, target, synapse type), on the virtual chips."""
from __future__ import annotations

from harness.suites.engine import Setup, check, evaluate_condition, parametrize, same_network

SUITE = "quantisation"


def pytest_generate_tests(metafunc):
    parametrize(metafunc, SUITE, "bits", "bits")


def test_quantisation(harness, deployed_network, condition):
    compiled = deployed_network.with_weight_bits(int(condition.value))
    setup = Setup(same_network(compiled), mismatch=harness.config.mismatch)
    check(evaluate_condition(harness, SUITE, deployed_network, condition, setup))
