"""Measured activity and energy: a virtual board's counters and power monitor over the wire.

The board returns each run's activity counters (RUN_BEGIN flag bit 1): they equal the
recount from the raster and the CAM table (tests/test_activity.py) and the emulator's.
Its power monitor (MONITOR) reports energy per rail over the last run: the chip power model
on those counters, with the board's configured relative noise — so the readings agree
with the model within that noise, and exactly without it.
"""
from __future__ import annotations

import numpy as np
import pytest

from drivers.board_server import BoardServer
from drivers.chip import ChipError
from drivers.endpoints import TcpEndpoint
from drivers.population import ChipByChip, result_differences
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from sim.chip.activity import COUNTERS
from sim.chip.spec import load_spec
from tests.chip_factories import make_spec, random_config, random_inputs
from tests.test_activity import check_counts

CHIP_SEED = 11
NOISE = 0.05


@pytest.fixture(scope="module")
def board():
    with BackgroundServer(BoardServer(chip_seed=CHIP_SEED, max_steps=500, power_noise=NOISE),
                          TcpEndpoint("127.0.0.1", 0)) as server:
        chip = open_chip(server.url, spec="dynapse1", chip_seed=CHIP_SEED, link_timeout=5.0)
        yield chip
        chip.close()


def test_the_board_returns_counters_equal_to_a_recount_and_the_emulator(board):
    rng = np.random.default_rng(8)
    config = random_config(rng, "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active",))
    inputs = random_inputs(rng, 40, 64, rate=0.3, batch=3)
    run = dict(inputs=inputs, chip_seeds=[CHIP_SEED] * 3, noise_seeds=[1, 2, 3], noise_amplitude=40)
    on_board = ChipByChip.for_chip(board).run(config, **run, record_state=True)
    assert on_board.activity is not None, "the board returned no counters"
    assert on_board.spikes[:, :-1].any(), "no spike to propagate: the test would mean little"
    check_counts(on_board.activity, config, inputs, on_board.spikes, "virtual board")
    emulated = ChipByChip.for_emulator("dynapse1", "spec").run(config, **run, record_state=True)
    assert result_differences(emulated, on_board, ("emulator", "board")) == []


def model_rails(config, activity, steps):
    counts = {name: float(getattr(activity, name)[0]) for name in COUNTERS}
    return config.spec.power.rail_energy(counts, steps / 1000.0, config.spec.cores)


def test_the_power_monitor_agrees_with_the_model_within_its_noise(board):
    rng = np.random.default_rng(9)
    config = random_config(rng, "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active",))
    board.load(config)
    ratios = []
    for trial in range(12):
        inputs = random_inputs(rng, 60, 64, rate=0.2)
        result = board.run(inputs, noise_amplitude=20, noise_seed=trial)
        reading = board.read_power()
        assert reading.seconds == pytest.approx(0.060)
        model = model_rails(config, result.activity, len(inputs))
        for rail, measured in reading.rails.items():
            ratios.append(measured / model[rail] - 1.0)
    ratios = np.array(ratios)
    assert np.all(np.abs(ratios) < 5 * NOISE), ratios          # every reading within 5 sigma
    assert abs(ratios.mean()) < 4 * NOISE / np.sqrt(ratios.size)  # no bias
    assert 0.3 * NOISE < ratios.std() < 2 * NOISE                 # the configured noise, not none


def test_a_noiseless_monitor_reads_the_model_exactly():
    config = random_config(np.random.default_rng(10), "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active",))
    with BackgroundServer(BoardServer(chip_seed=3, max_steps=100), TcpEndpoint("127.0.0.1", 0)) as server:
        chip = open_chip(server.url, spec="dynapse1", chip_seed=3, link_timeout=5.0)
        try:
            with pytest.raises(ChipError, match="MONITOR without a run"):
                chip.load(config)
                chip.read_power()
            inputs = random_inputs(np.random.default_rng(1), 50, 64, rate=0.2)
            result = chip.run(inputs)
            reading = chip.read_power()
        finally:
            chip.close()
    model = model_rails(config, result.activity, 50)
    assert reading.rails == pytest.approx(model, rel=1e-12)
    assert load_spec("dynapse1").power.static_power_w(4) * 0.05 < reading.core_j


def test_a_board_whose_spec_has_no_power_model_has_no_monitor():
    spec = make_spec(cores=2, neurons_per_core=4, inputs=3, fan_in=4)
    assert spec.power is None
    with BackgroundServer(BoardServer(spec, chip_seed=1, max_steps=50), TcpEndpoint("127.0.0.1", 0)) as server:
        chip = open_chip(server.url, spec=spec, chip_seed=1, link_timeout=5.0)
        try:
            assert "counters" in chip.identity().capabilities
            with pytest.raises(ChipError, match="has no power monitor"):
                chip.read_power()
        finally:
            chip.close()
