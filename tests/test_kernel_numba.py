"""The fused Numba kernel's parts that the equivalence tests reach only by chance."""
import numba
import numpy as np
import pytest

from sim.chip.kernel_numba import TOTAL_CLIP, NumbaKernel, _add_noise, _decay, _synapse
from sim.chip.mismatch import batch_params
from sim.chip.noise import MAX_NOISE_AMPLITUDE, STEP_STRIDE, noise_keys, noise_step
from sim.chip.population import Population
from sim.chip.spec import DMEM_RANGE, DSYN_RANGE, ISYN_MAX, MAX_NEURONS, SIZE_LIMITS, V_RANGE, WSYN_RANGE
from tests.chip_factories import random_config


@pytest.mark.parametrize("amplitude", [1, 2, 7, 2**15, 2**29 + 3, 2**30 - 1, 2**30, 2**30 + 1, MAX_NOISE_AMPLITUDE])
@pytest.mark.parametrize("key", [0, 2**64 - 2**20 - 5, 0x0123456789ABCDEF])
def test_float_reciprocal_remainder_is_the_exact_noise(amplitude, key):
    """The vectorised remainder equals CHIP_SPEC §5 over the amplitude range, the one-sided
    range from 2**30 on, and counters that wrap around 2**64 (the sum clipped to ±TOTAL_CLIP,
    where the membrane saturates anyway)."""
    neuron_ids = np.arange(4096, dtype=np.uint64)
    keys = np.array([[key]], np.uint64)
    for t in (0, 1, 12345):
        total = np.full(neuron_ids.size, 17, np.int32)
        counter = np.uint64((key + t * STEP_STRIDE) % 2**64)
        _add_noise(total, counter, neuron_ids, np.int64(amplitude))
        expected = np.clip(17 + noise_step(keys, t, neuron_ids, amplitude)[0], -TOTAL_CLIP, TOTAL_CLIP)
        np.testing.assert_array_equal(total, expected)


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


@numba.njit
def _synapses_of(isyn, c, dsyn, wsyn):
    out = np.empty(isyn.size, np.int32)
    for i in range(isyn.size):
        out[i] = _synapse(isyn, c, dsyn, wsyn, i)
    return out


@numba.njit
def _decays_of(x, d):
    out = np.empty(x.size, np.int32)
    for i in range(x.size):
        out[i] = _decay(x[i], d[i])
    return out


def test_32_bit_synapse_and_decay_match_the_spec_at_the_extremes():
    """The kernel's 32-bit synapse update equals CHIP_SPEC §4 in int64 over the whole range:
    isyn up to ISYN_MAX, any decay, wsyn up to 2**15 - 1 and counts up to 15 · fan_in for the
    largest fan_in (inputs + neurons of the largest spec), where the 32-bit product splits; and
    the membrane decay over V_RANGE."""
    rng = np.random.default_rng(3)
    size = 200_000
    count_max = 15 * (SIZE_LIMITS["inputs"] + MAX_NEURONS)
    edges = lambda lo, hi: np.r_[lo, lo + 1, hi - 1, hi, rng.integers(lo, hi + 1, size - 4)]  # noqa: E731
    isyn, dsyn, wsyn = edges(0, ISYN_MAX), edges(*DSYN_RANGE), edges(*WSYN_RANGE)
    count = np.r_[rng.integers(0, 2**16, size // 2), rng.integers(0, count_max + 1, size - size // 2)]
    for order in (rng.permutation(size) for _ in range(3)):
        i64 = [a[order].astype(np.int64) for a in (isyn, count, dsyn, wsyn)]
        expected = np.minimum(i64[0] - ((i64[0] * i64[2]) >> 16) + i64[1] * i64[3], ISYN_MAX)
        state, c = i64[0].astype(np.int32), i64[1].astype(np.int32)
        np.testing.assert_array_equal(_synapses_of(state, c, i64[2].astype(np.int32), i64[3].astype(np.int32)),
                                      expected)
        np.testing.assert_array_equal(state, expected)
        assert not c.any()
    v, dmem = edges(*V_RANGE), edges(*DMEM_RANGE)
    np.testing.assert_array_equal(_decays_of(v.astype(np.int32), dmem.astype(np.int32)), (v * dmem) >> 16)
