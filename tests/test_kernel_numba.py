"""The fused Numba kernel's parts that the equivalence tests reach only by chance."""
import numba
import numpy as np
import pytest

from sim.chip.kernel_numba import NumbaKernel, _add_noise
from sim.chip.mismatch import batch_params
from sim.chip.noise import MAX_NOISE_AMPLITUDE, STEP_STRIDE, noise_keys, noise_step
from sim.chip.population import Population
from tests.chip_factories import random_config


@pytest.mark.parametrize("amplitude", [1, 2, 7, 2**15, 2**29 + 3, 2**30 - 1, 2**30, 2**30 + 1, MAX_NOISE_AMPLITUDE])
@pytest.mark.parametrize("key", [0, 2**64 - 2**20 - 5, 0x0123456789ABCDEF])
def test_float_reciprocal_remainder_is_the_exact_noise(amplitude, key):
    """The vectorised remainder equals CHIP_SPEC §5 over the amplitude range, the one-sided
    range from 2**30 on, and counters that wrap around 2**64."""
    neuron_ids = np.arange(4096, dtype=np.uint64)
    keys = np.array([[key]], np.uint64)
    for t in (0, 1, 12345):
        total = np.full(neuron_ids.size, 17, np.int64)
        counter = np.uint64((key + t * STEP_STRIDE) % 2**64)
        _add_noise(total, counter, neuron_ids, np.int64(amplitude))
        np.testing.assert_array_equal(total - 17, noise_step(keys, t, neuron_ids, amplitude)[0])


def test_numba_threads_are_bounded_and_restored():
    rng = np.random.default_rng(0)
    config = random_config(rng, "dynapse1", fill=0.05, regimes=("active",))
    seeds = [1, 2, 3]
    pop = Population.build(config, batch_params(config, seeds), np.arange(config.spec.n_neurons))
    kernel = NumbaKernel(pop, threads=10**6)
    assert kernel.threads == numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    x = np.zeros((1, 5, config.spec.inputs), np.uint8)
    spikes, states, _ = NumbaKernel(pop, threads=1).run(x, noise_keys(seeds, [0, 0, 0]), 3, np.arange(4), False)
    assert numba.get_num_threads() == before
    assert spikes.shape == (3, 5, 4) and states is None


def test_selected_neurons_in_any_order_and_repeated_get_their_own_spikes():
    """The kernel writes spikes from the step's list of firing neurons through an output column
    per neuron: a selection out of order and with repeats reads as indexing every neuron's."""
    rng = np.random.default_rng(1)
    config = random_config(rng, "dynapse1", fill=0.2, regimes=("active",))
    seeds = [1, 2]
    pop = Population.build(config, batch_params(config, seeds), np.arange(config.spec.n_neurons))
    x = (rng.random((1, 60, config.spec.inputs)) < 0.1).astype(np.uint8)
    keys = noise_keys(seeds, [0, 0])
    everyone, _, _ = NumbaKernel(pop).run(x, keys, 0, np.arange(pop.index.size), False)
    firing = np.flatnonzero(everyone.any(axis=(0, 1)))
    assert firing.size >= 2, "the test needs neurons that fire"
    silent = np.flatnonzero(~everyone.any(axis=(0, 1)))[:1]
    selected = np.r_[firing[1], firing[0], firing[1], silent, firing[0]]
    spikes, _, _ = NumbaKernel(pop).run(x, keys, 0, selected, False)
    np.testing.assert_array_equal(spikes, everyone[:, :, selected])
