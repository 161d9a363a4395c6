"""Yield across mismatch levels: every virtual chip at each level (common random numbers,
so chip #k at 10 % and at 20 % differ only in scale). Reference: the nominal chips."""
from __future__ import annotations

import pytest

from harness.boards.verdicts import check_board, check_model
from harness.suites.engine import Setup, check, same_network

SUITE = "mismatch_yield"


@pytest.fixture
def setup(deployed_network, condition):
    return Setup(same_network(deployed_network.compiled), mismatch=condition.value)


def test_mismatch_yield(verdict):
    check(verdict)


def test_mismatch_yield_board(board_verdict):
    """One board at one condition it realises: measured, and where asserted its judged accuracy meets the spec."""
    check_board(*board_verdict)


def test_mismatch_yield_model(model_verdict):
    """The virtual chips predict the boards: no more fall outside the prediction band than chance allows."""
    check_model(model_verdict)
