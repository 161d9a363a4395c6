"""The chip-population protocol: the batched simulator and chip-by-chip targets (emulator,
a virtual board over a serial port) give the same bits for the same trials."""
import numpy as np
import pytest

from drivers.chip import ChipError
from drivers.population import ChipByChip, SimulatedPopulation
from drivers.targets import open_chip
from tests.chip_factories import random_config, random_inputs
from tests.test_serial_board import start_emulator, stop


@pytest.fixture(scope="module")
def trials():
    rng = np.random.default_rng(4)
    config = random_config(rng, "dynapse1")
    inputs = random_inputs(rng, 60, config.spec.inputs, batch=5)
    return config, inputs, [3, 3, 9, 4, 9], np.array([0, 1, 2, 3, 4], np.uint64)


def test_simulated_and_chip_by_chip_populations_agree_bit_for_bit(trials):
    config, inputs, seeds, noise = trials
    simulated = SimulatedPopulation("spec", "numpy", max_batch=2).run(config, inputs, seeds, noise,
                                                                       noise_amplitude=500, record_state=True)
    emulated = ChipByChip.for_emulator("dynapse1", "spec")
    one_by_one = emulated.run(config, inputs, seeds, noise, noise_amplitude=500, record_state=True)
    emulated.close()
    for name in ("spikes", "v", "isyn", "refr"):
        np.testing.assert_array_equal(getattr(simulated, name), getattr(one_by_one, name), err_msg=name)
    assert simulated.spikes.any() and not simulated.spikes.all()


def test_selected_neurons(trials):
    config, inputs, seeds, noise = trials
    neurons = [5, 0, 700]
    full = SimulatedPopulation("spec", "numpy").run(config, inputs, seeds, noise).spikes
    picked = ChipByChip.for_emulator("dynapse1", "spec").run(config, inputs, seeds, noise, neurons=neurons).spikes
    np.testing.assert_array_equal(picked, full[:, :, neurons])


def test_a_board_population_is_the_one_chip_the_board_is(trials):
    config, inputs, _, noise = trials
    proc, port = start_emulator("--pty", "--chip-seed", "9", "--mismatch", "spec")
    try:
        board = open_chip(port, spec="dynapse1")
        try:
            population = ChipByChip.for_board(board, 9)
            over_wire = population.run(config, inputs[:2], [9, 9], noise[:2], noise_amplitude=500).spikes
            with pytest.raises(ChipError, match="is chip seed 9, not 3"):
                population.run(config, inputs[:1], [3], noise[:1])
            population.close()  # leaves the board, which the caller owns, open
            assert board.identity().chip_id == "seed:9"
        finally:
            board.close()
    finally:
        stop(proc)
    simulated = SimulatedPopulation("spec", "numpy").run(config, inputs[:2], [9, 9], noise[:2],
                                                         noise_amplitude=500).spikes
    np.testing.assert_array_equal(over_wire, simulated)
