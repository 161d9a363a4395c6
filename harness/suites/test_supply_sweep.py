"""Yield across supply voltages, set through the lab supply (VISA).

Virtual chips realise the voltage read back from the supply through the supply model of
docs/supply-model.md (every bias DAC scales with (V / V_nominal) ** alpha); on a physical
board the supply acts on the chip itself."""
from __future__ import annotations

from dataclasses import replace

import pytest

from harness.deploy import evaluate_on_chip
from harness.boards.verdicts import check_board, check_model
from harness.suites.engine import Setup, check, same_network
from sim.chip.supply import supplied_config

SUITE = "supply_sweep"


@pytest.fixture
def supply(instruments, harness):
    """The supply, output on; back at the nominal voltage after the test."""
    params = harness.config.suite_params(SUITE)
    instruments.supply.set_output(True)
    yield instruments.supply
    instruments.supply.set_voltage(float(params["nominal_v"]))


@pytest.fixture
def setup(harness, deployed_network, condition, supply):
    params = harness.config.suite_params(SUITE)
    supply.set_voltage(float(condition.value))
    volts = supply.voltage().value
    current = supply.measure_current().value
    compiled = deployed_network.compiled
    config = supplied_config(compiled.config, volts, float(params["nominal_v"]), float(params["alpha"]))
    return Setup(same_network(replace(compiled, config=config)), mismatch=harness.config.mismatch,
                 context={"supply_v": volts, "supply_current_a": current, "alpha": params["alpha"]},
                 for_board=same_network(compiled))  # a board's own supply acts on it: it loads the network as is


@pytest.mark.needs_instrument("supply")
def test_supply_sweep(verdict):
    check(verdict)


@pytest.mark.needs_board(physical=True)
@pytest.mark.needs_instrument("supply")
def test_supply_on_board(harness, deployed_network, chip, supply):
    """On a physical board: accuracy at the lowest swept voltage meets the accuracy spec."""
    params = harness.config.suite_params(SUITE)
    supply.set_voltage(float(min(params["voltages"])))
    accuracy = evaluate_on_chip(deployed_network.compiled, chip, deployed_network.task,
                                samples=int(params["samples"]))
    assert accuracy >= float(params["accuracy_spec"])


def test_supply_sweep_board(board_verdict):
    """One board at one condition it realises: measured, and where asserted its judged accuracy meets the spec."""
    check_board(*board_verdict)


def test_supply_sweep_model(model_verdict):
    """The virtual chips predict the boards: no more fall outside the prediction band than chance allows."""
    check_model(model_verdict)
