"""Yield with CAM weights of limited resolution: the network compiled with at most
2**(bits-1) - 1 connections per (source, target, synapse type), on the virtual chips."""
from __future__ import annotations

import pytest

from harness.boards.verdicts import check_board, check_model
from harness.suites.engine import Setup, check, same_network

SUITE = "quantisation"


@pytest.fixture
def setup(harness, deployed_network, condition):
    compiled = deployed_network.with_weight_bits(int(condition.value))
    return Setup(same_network(compiled), mismatch=harness.config.mismatch)


def test_quantisation(verdict):
    check(verdict)


def test_quantisation_board(board_verdict):
    """One board at one condition it realises: measured, and where asserted its judged accuracy meets the spec."""
    check_board(*board_verdict)


def test_quantisation_model(model_verdict):
    """The virtual chips predict the boards: no more fall outside the prediction band than chance allows."""
    check_model(model_verdict)
