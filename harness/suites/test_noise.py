"""Yield under the chip's temporal noise (CHIP_SPEC §5). A level is the noise amplitude as a
fraction of the mean nominal threshold of the cores the network uses; sample s of the
test set runs with noise seed s on every chip."""
from __future__ import annotations

import numpy as np
import pytest

from harness.boards.verdicts import check_board, check_model
from harness.suites.engine import Setup, check, same_network
from sim.chip.config import ChipConfig

SUITE = "noise"


def noise_amplitude(config: ChipConfig, level: float) -> int:
    """Integer amplitude A = level × mean nominal theta of the cores with enabled neurons."""
    cores = np.unique(config.spec.core_of(np.flatnonzero(config.enabled)))
    return int(round(level * float(np.mean(config.nominal()["theta"][cores]))))


@pytest.fixture
def setup(harness, deployed_network, condition):
    compiled = deployed_network.compiled
    amplitude = noise_amplitude(compiled.config, float(condition.value))
    return Setup(same_network(compiled), mismatch=harness.config.mismatch, noise_amplitude=amplitude)


def test_noise(verdict):
    check(verdict)


def test_noise_board(board_verdict):
    """One board at one condition it realises: measured, and where asserted its judged accuracy meets the spec."""
    check_board(*board_verdict)


def test_noise_model(model_verdict):
    """The virtual chips predict the boards: no more fall outside the prediction band than chance allows."""
    check_model(model_verdict)
