"""Without recorded state the batched simulator skips disabled neurons; outputs must not change."""
import numpy as np
import pytest

from drivers.emulator import EmulatorChip
from sim.chip.batched import BatchedChips
from tests.chip_factories import CPU_PATHS
from tests.test_chip_cli import small_config


@pytest.mark.parametrize("backend, kernel, propagation", CPU_PATHS)
def test_skipping_disabled_neurons_keeps_every_bit(backend, kernel, propagation):
    config = small_config(seed=2)
    config.enabled[np.random.default_rng(0).random(config.spec.n_neurons) < 0.6] = False
    inputs = (np.random.default_rng(1).random((80, 64)) < 0.05).astype(np.uint8) * 3
    chips = BatchedChips(config, [4, 8], mismatch=0.2, backend=backend, propagation=propagation, kernel=kernel)
    watched = np.array([0, 5, 17, 300, 1023])
    fast = chips.run(inputs, noise_amplitude=400, noise_seeds=[1, 2], neurons=watched)
    full = chips.run(inputs, noise_amplitude=400, noise_seeds=[1, 2], record_state=True)
    np.testing.assert_array_equal(fast.spikes, full.spikes[:, :, watched])
    chip = EmulatorChip("dynapse1", chip_seed=8, mismatch=0.2)
    chip.load(config)
    np.testing.assert_array_equal(chip.run(inputs, noise_amplitude=400, noise_seed=2).spikes, full.spikes[1])
    assert full.spikes.any(), "the test needs activity to mean anything"
    assert not full.spikes[:, :, ~config.enabled].any()


@pytest.mark.parametrize("kernel", ["fused", "vector"])
def test_threaded_chunks_equal_one_thread_and_the_emulator(kernel):
    config = small_config(seed=3)
    rng = np.random.default_rng(5)
    inputs = (rng.random((20, 60, 64)) < 0.05).astype(np.uint8)  # one raster per chip
    seeds = list(range(100, 120))
    threaded = BatchedChips(config, seeds, backend="numpy", threads=2, kernel=kernel).run(
        inputs, noise_amplitude=200, noise_seeds=list(range(20)))
    single = BatchedChips(config, seeds, backend="numpy", threads=1, kernel=kernel).run(
        inputs, noise_amplitude=200, noise_seeds=list(range(20)))
    np.testing.assert_array_equal(threaded.spikes, single.spikes)
    for i in (0, 19):
        chip = EmulatorChip("dynapse1", chip_seed=seeds[i])
        chip.load(config)
        np.testing.assert_array_equal(chip.run(inputs[i], noise_amplitude=200, noise_seed=i).spikes,
                                      threaded.spikes[i])
    assert threaded.spikes.any()
