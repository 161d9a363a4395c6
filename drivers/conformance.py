"""The conformance suite every Chip target must pass, as pytest test functions.

Import the tests into a test module and provide a `chip_factory` fixture: a callable
that returns a fresh, open Chip (the fixture closes what it made). tests/test_conformance.py
runs it for the in-process emulator, a virtual board on a pty, one on TCP, and a
physical board given by $HARNESS_BOARD_URL.
"""
from __future__ import annotations

import numpy as np
import pytest

from drivers.chip import Chip, ChipError, NotLoadedError
from drivers.emulator import EmulatorChip
from drivers.payloads import image_checksum
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


def reference_chip(chip: Chip) -> EmulatorChip | None:
    """The in-process emulator of the same chip, when the target is an emulated one."""
    identity = chip.identity()
    if not identity.emulated:
        return None
    return EmulatorChip(spec_of(chip), identity.chip_seed, identity.mismatch)


def assert_same_result(a, b) -> None:
    np.testing.assert_array_equal(a.spikes, b.spikes)
    for name in ("v", "isyn", "refr"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            np.testing.assert_array_equal(left, right, err_msg=name)


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
    chip = chip_factory()
    config, inputs = demo_config(chip), demo_inputs(chip)
    chip.load(config)
    first = chip.run(inputs, noise_amplitude=40, noise_seed=11, record_state=True)
    again = chip.run(inputs, noise_amplitude=40, noise_seed=11, record_state=True)
    assert_same_result(first, again)
    assert first.spikes.shape == (STEPS, spec_of(chip).n_neurons) and first.spikes.dtype == bool
    assert first.spikes.any(), "demo configuration should make the chip spike"
    reference = reference_chip(chip)
    if reference is None:
        pytest.skip(f"{chip.identity().chip_id} is a physical chip: no emulator to compare with")
    reference.load(config)
    assert_same_result(first, reference.run(inputs, noise_amplitude=40, noise_seed=11, record_state=True))
    assert_same_result(chip.run(inputs), reference.run(inputs))


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
