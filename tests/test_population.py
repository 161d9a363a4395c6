"""The chip-population protocol: the batched simulator and chip-by-chip targets (emulator,
a virtual board over a serial port) give the same bits for the same trials."""
import json

import numpy as np
import pytest

from drivers.chip import ChipError
from drivers.conformance import assert_same_result
from drivers.errors import UnknownTargetError
from drivers.population import ChipByChip, PopulationResult, SimulatedPopulation
from drivers.targets import open_chip, open_population, parse_target
from tests.chip_factories import random_config, random_inputs
from tests.test_pipeline import harness, write_config
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
    assert_same_result(simulated, one_by_one, labels=("simulated", "chip by chip"))
    assert simulated.spikes.any() and not simulated.spikes.all()


def test_selected_neurons(trials):
    config, inputs, seeds, noise = trials
    neurons = [5, 0, 700]
    full = SimulatedPopulation("spec", "numpy").run(config, inputs, seeds, noise).spikes
    picked = ChipByChip.for_emulator("dynapse1", "spec").run(config, inputs, seeds, noise, neurons=neurons)
    assert_same_result(PopulationResult(full[:, :, neurons]), picked, labels=("simulated, all neurons", "picked"))


def test_trials_must_agree_in_number(trials):
    config, inputs, seeds, noise = trials
    for population in (SimulatedPopulation("spec", "numpy"), ChipByChip.for_emulator("dynapse1", "spec")):
        with pytest.raises(ValueError, match="5 input rasters, 4 chip seeds and 5 noise seeds"):
            population.run(config, inputs, seeds[:4], noise)
        with pytest.raises(ValueError, match="3 amplitudes for 5 trials"):
            population.run(config, inputs, seeds, noise, noise_amplitude=[1, 2, 3])
    with pytest.raises(ValueError, match="kernel 'numba'"):
        SimulatedPopulation("spec", "numpy", kernel="numba")


def test_a_board_population_is_the_one_chip_the_board_is(trials):
    config, inputs, _, noise = trials
    proc, port = start_emulator("--pty", "--chip-seed", "9", "--mismatch", "spec")
    try:
        board = open_chip(port, spec="dynapse1")
        try:
            population = ChipByChip.for_board(board, 9)
            over_wire = population.run(config, inputs[:2], [9, 9], noise[:2], noise_amplitude=[500, 0])
            with pytest.raises(ChipError, match="is chip seed 9, not 3"):
                population.run(config, inputs[:1], [3], noise[:1])
            population.close()  # leaves the board, which the caller owns, open
            assert board.identity().chip_id == "seed:9"
        finally:
            board.close()
    finally:
        stop(proc)
    simulated = SimulatedPopulation("spec", "numpy").run(config, inputs[:2], [9, 9], noise[:2],
                                                         noise_amplitude=[500, 0])
    assert_same_result(simulated, over_wire, labels=("the simulator", "the board"))


def test_targets_are_urls_with_a_scheme_registry():
    seeded = parse_target("emulator://dynapse1?seed=7&mismatch=spec")
    assert (seeded.scheme, seeded.spec, seeded.chip_seed, seeded.mismatch, seeded.fixed_chip) == \
        ("emulator", "dynapse1", 7, "spec", True)
    assert not parse_target("emulator").fixed_chip and parse_target("socket://127.0.0.1:9").fixed_chip
    chip = open_chip("emulator://dynapse1?seed=7&mismatch=0.1", chip_seed=3)  # the URL names the chip
    assert chip.identity().chip_seed == 7 and chip.identity().mismatch == "0.1"
    assert open_chip("emulator", chip_seed=3).identity().chip_id == "seed:3"
    assert isinstance(open_population("sim://dynapse1?mismatch=0.1&backend=numpy"), SimulatedPopulation)
    assert isinstance(open_population("emulator"), ChipByChip)
    with pytest.raises(ChipError, match="is a dense1k chip, not dynapse1"):
        open_chip("emulator://dense1k", spec="dynapse1")
    with pytest.raises(ChipError, match="a chip population"):
        open_chip("sim://dynapse1")
    with pytest.raises(UnknownTargetError, match="unknown field 'sed'"):
        parse_target("emulator://dynapse1?sed=7")


def test_a_seeded_emulator_target_is_one_fixed_chip_in_a_run(tmp_path):
    config = write_config(tmp_path)
    config.write_text('target = "emulator://dynapse1?seed=2&mismatch=spec"\n' + config.read_text())
    result = harness("run", str(config), "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = [json.loads(p.read_text())["driver"] for p in (tmp_path / "run/verdicts").glob("*/*/*.json")]
    assert {c["chip_id"] for d in checked for c in d["chips"]} == {"seed:2"}
    assert any(d["skipped"] for d in checked)  # the nominal condition: chip #2 at spec mismatch cannot realise it
