"""Yield with dead neurons: a fraction of the network's neurons disabled (never spike).

Failure patterns are drawn from the run seed; chip #seed gets pattern `seed % patterns`,
so chips sharing a pattern are evaluated together on the batched simulator."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from harness.compiler import CompiledNetwork
from harness.boards.verdicts import check_board, check_model
from harness.suites.engine import Setup, check

SUITE = "neuron_failure"


def failure_patterns(compiled: CompiledNetwork, fraction: float, patterns: int, seed: int) -> list[CompiledNetwork]:
    """`patterns` copies of `compiled`, each with round(fraction × neurons) neurons disabled."""
    alive = np.flatnonzero(compiled.config.enabled)
    n_dead = int(round(fraction * alive.size))
    variants = []
    for p in range(patterns):
        rng = np.random.default_rng([seed, p, round(fraction * 1_000_000)])
        enabled = compiled.config.enabled.copy()
        enabled[rng.choice(alive, n_dead, replace=False)] = False
        variants.append(replace(compiled, config=replace(compiled.config, enabled=enabled)))
    return variants


@pytest.fixture
def setup(harness, deployed_network, condition):
    config = harness.config
    patterns = max(1, int(config.suite_params(SUITE)["patterns"]))
    variants = failure_patterns(deployed_network.compiled, float(condition.value), patterns, config.seed)
    return Setup(lambda chip_seed: variants[chip_seed % patterns], mismatch=config.mismatch,
                 tag=f"patterns={patterns},seed={config.seed}")


def test_neuron_failure(verdict):
    check(verdict)


def test_neuron_failure_board(board_verdict):
    """One board at one condition it realises: measured, and where asserted its judged accuracy meets the spec."""
    check_board(*board_verdict)


def test_neuron_failure_model(model_verdict):
    """The virtual chips predict the boards: no more fall outside the prediction band than chance allows."""
    check_model(model_verdict)
