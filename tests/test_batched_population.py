"""Without recorded state the batched simulator skips disabled neurons; outputs must not change.

The simulator runs as a chip population (`SimulatedPopulation` on each kernel path), checked
against the emulator as one (`ChipByChip.for_emulator`).
"""
import numpy as np
import pytest

from drivers.conformance import assert_same_result
from drivers.population import ChipByChip, PopulationResult, SimulatedPopulation
from sim.chip.batched import BatchedChips
from tests.chip_factories import CPU_PATHS, simulated
from tests.test_chip_cli import small_config


@pytest.mark.parametrize("path", CPU_PATHS, ids="/".join)
def test_skipping_disabled_neurons_keeps_every_bit(path):
    config = small_config(seed=2)
    config.enabled[np.random.default_rng(0).random(config.spec.n_neurons) < 0.6] = False
    inputs = np.broadcast_to((np.random.default_rng(1).random((80, 64)) < 0.05).astype(np.uint8) * 3, (2, 80, 64))
    population, trials = simulated(0.2, path), dict(chip_seeds=[4, 8], noise_seeds=[1, 2], noise_amplitude=400)
    watched = np.array([0, 5, 17, 300, 1023])
    fast = population.run(config, inputs, **trials, neurons=watched)
    full = population.run(config, inputs, **trials, record_state=True)
    assert_same_result(PopulationResult(full.spikes[:, :, watched]), fast, labels=("all neurons", "enabled only"))
    emulated = ChipByChip.for_emulator("dynapse1", 0.2).run(config, inputs[1:], [8], [2], noise_amplitude=400)
    assert_same_result(emulated, PopulationResult(full.spikes[1:]), labels=("the emulator", "/".join(path)))
    assert full.spikes.any(), "the test needs activity to mean anything"
    assert not full.spikes[:, :, ~config.enabled].any()


def test_batched_chips_echo_the_selected_neurons():
    config = small_config(seed=2)
    watched = np.array([17, 0, 5])
    result = BatchedChips(config, [4], backend="numpy").run(np.zeros((5, 64), np.uint8), neurons=watched)
    np.testing.assert_array_equal(result.neurons, watched)
    assert result.spikes.shape == (1, 5, 3)


@pytest.mark.parametrize("kernel", ["fused", "vector"])
def test_threaded_chunks_equal_one_thread_and_the_emulator(kernel):
    config = small_config(seed=3)
    rng = np.random.default_rng(5)
    inputs = (rng.random((20, 60, 64)) < 0.05).astype(np.uint8)  # one raster per chip
    seeds, noise = list(range(100, 120)), list(range(20))
    run = dict(noise_amplitude=200)
    threaded = SimulatedPopulation("spec", "numpy", kernel=kernel, threads=2).run(config, inputs, seeds, noise, **run)
    single = SimulatedPopulation("spec", "numpy", kernel=kernel, threads=1).run(config, inputs, seeds, noise, **run)
    assert_same_result(single, threaded, labels=("1 thread", "2 threads"))
    picked = [0, 19]
    emulated = ChipByChip.for_emulator("dynapse1", "spec").run(config, inputs[picked], [seeds[i] for i in picked],
                                                                [noise[i] for i in picked], **run)
    assert_same_result(emulated, threaded.subset(picked), labels=("the emulator", f"{kernel}, 2 threads"))
    assert threaded.spikes.any()
