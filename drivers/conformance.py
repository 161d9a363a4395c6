"""The conformance suite every Chip target must pass, as pytest test functions.

Import the tests into a test module and provide a `chip_factory` fixture: a callable
that returns a fresh, open Chip (the fixture closes what it made). tests/test_conformance.py
runs it for the in-process emulator, a virtual board on a pty, one on TCP, and a
physical board given by $HARNESS_BOARD_URL. Results are compared as the harness compares
targets: the chip as a population (`ChipByChip`) against the batched simulator
(`SimulatedPopulation`), through `assert_same_result`, which the other driver tests share.
"""
from __future__ import annotations

import numpy as np
import pytest

from drivers.chip import Chip, ChipError, NotLoadedError
from drivers.payloads import image_checksum
from drivers.population import ChipByChip, SimulatedPopulation, result_differences
from sim.chip.config import ChipConfig
from sim.chip.spec import ChipSpec, load_spec

STEPS = 40


def spec_of(chip: Chip) -> ChipSpec:
    """The chip's spec: its `spec` attribute where it has one, else the built-in it names."""
    return getattr(chip, "spec", None) or load_spec(chip.identity().spec_name)


def demo_config(chip: Chip, seed: int = 0) -> ChipConfig:
    """A valid configuration for `chip`'s spec with some recurrent activity."""
    spec = spec_of(chip)
    rng = np.random.default_rng(seed)
    config = ChipConfig.empty(spec)
    slots = min(16, spec.fan_in)
    config.cam_source[:, :slots] = rng.integers(0, spec.n_sources, (spec.n_neurons, slots))
    config.cam_type[:, :slots] = rng.integers(0, 4, (spec.n_neurons, slots))
    config.idc[:] = [250, 7, 0]
    return config


def demo_inputs(chip: Chip, steps: int = STEPS, seed: int = 1) -> np.ndarray:
    spec = spec_of(chip)
    return (np.random.default_rng(seed).random((steps, spec.inputs)) < 0.05).astype(np.uint8) * 3


def reference_population(chip: Chip) -> SimulatedPopulation | None:
    """The batched simulator at the chip's mismatch level, when the target is an emulated chip
    (its seed names the chip to simulate); None for a physical chip, which has no twin."""
    identity = chip.identity()
    if not identity.emulated:
        return None
    return SimulatedPopulation(identity.mismatch, "numpy")


def assert_same_result(expected, actual, *, labels: tuple[str, str] = ("expected", "actual"), where: str = "") -> None:
    """AssertionError, listing what differs (`drivers.population.result_differences`), unless
    two results (`PopulationResult`s, or single runs' `RunResult`s) agree bit for bit."""
    differences = result_differences(expected, actual, labels)
    if differences:
        raise AssertionError(f"{labels[1]} differs from {labels[0]}{' on ' + where if where else ''}:\n  "
                             + "\n  ".join(differences))


def test_identity(chip_factory):
    chip = chip_factory()
    identity = chip.identity()
    assert identity.spec_version == "vc1"
    assert identity.spec_name == spec_of(chip).name
    assert identity.chip_id and identity.firmware and identity.mismatch


def test_configuration_round_trip(chip_factory):
    chip = chip_factory()
    config = demo_config(chip)
    chip.load(config)
    if hasattr(chip, "board_checksum"):
        assert chip.board_checksum() == image_checksum(config)
        chip.reset()
        assert chip.board_checksum() is None
    else:
        chip.reset()
    with pytest.raises(NotLoadedError):
        chip.run(demo_inputs(chip))


def test_same_seeds_same_bits_as_the_emulator(chip_factory):
    """Same trial, same bits; and an emulated chip gives the bits of the batched simulator
    (which test_chip_equivalence holds to the emulator), state included, for every trial, its
    noise amplitude, and a selection of neurons."""
    chip = chip_factory()
    spec, identity = spec_of(chip), chip.identity()
    config = demo_config(chip)
    inputs = np.stack([demo_inputs(chip), demo_inputs(chip), demo_inputs(chip, seed=2)])
    trials = dict(chip_seeds=[identity.chip_seed or 0] * 3, noise_seeds=[11, 11, 0])
    amplitudes = [40, 40, 0]  # per trial: the third runs without noise
    target = ChipByChip.for_chip(chip)
    recorded = target.run(config, inputs, **trials, noise_amplitude=amplitudes, record_state=True)
    assert_same_result(recorded.subset([0]), recorded.subset([1]), labels=("a run", "the same run again"),
                       where=identity.chip_id)
    assert recorded.spikes.shape == (3, STEPS, spec.n_neurons) and recorded.spikes.dtype == bool
    assert recorded.spikes[0].any(), "demo configuration should make the chip spike"
    reference = reference_population(chip)
    if reference is None:
        pytest.skip(f"{identity.chip_id} is a physical chip: no emulator to compare with")
    labels = (f"the simulator at mismatch {identity.mismatch}", identity.chip_id)
    assert_same_result(reference.run(config, inputs, **trials, noise_amplitude=amplitudes, record_state=True),
                       recorded, labels=labels, where="recorded runs")
    neurons = [spec.n_neurons - 1, 0, 5]
    assert_same_result(reference.run(config, inputs, **trials, noise_amplitude=amplitudes, neurons=neurons),
                       target.run(config, inputs, **trials, noise_amplitude=amplitudes, neurons=neurons),
                       labels=labels, where=f"neurons {neurons}")


def test_bad_configuration_is_rejected_clearly(chip_factory):
    chip = chip_factory()
    config = demo_config(chip)
    config.cam_source[3, 0] = spec_of(chip).n_sources + 5
    with pytest.raises((ChipError, ValueError), match=r"cam_source\[neuron 3, slot 0\]"):
        chip.load(config)


def test_run_before_load_is_not_loaded_error(chip_factory):
    chip = chip_factory()
    with pytest.raises(NotLoadedError):
        chip.run(demo_inputs(chip))


def test_wrong_channel_count_is_rejected(chip_factory):
    chip = chip_factory()
    chip.load(demo_config(chip))
    with pytest.raises((ChipError, ValueError), match=f"inputs = {spec_of(chip).inputs}"):
        chip.run(np.zeros((5, spec_of(chip).inputs + 1), np.uint8))


def test_more_steps_than_the_board_allows_is_rejected(chip_factory):
    chip = chip_factory()
    limit = getattr(chip, "max_steps", None)
    if limit is None:
        pytest.skip("target has no step limit")
    chip.load(demo_config(chip))
    with pytest.raises(ChipError, match=f"limit of 1..{limit} steps"):
        chip.run(np.zeros((limit + 1, spec_of(chip).inputs), np.uint8))
