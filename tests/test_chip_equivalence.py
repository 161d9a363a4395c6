"""EmulatorChip (one chip, the reference) and BatchedChips (the fast path) agree bit for bit.

CHIP_SPEC §6: for random configurations, chip seeds, mismatch levels, noise and inputs,
the spike rasters and the full integer state (v, isyn, refr) at every step are identical,
on every kernel path of this machine (`CPU_PATHS`: the fused Numba kernel and the vectorised
NumPy baseline with every propagation mode, auto switching between them) and, where a GPU
is present, on the CuPy kernel (`GPU_PATHS`).

Both sides are chip populations, as the harness runs them: `SimulatedPopulation` on a kernel
path, and `ChipByChip.for_emulator` (one EmulatorChip per chip seed); results are diffed by
`drivers.conformance.assert_same_result`.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from drivers.conformance import assert_same_result
from drivers.emulator import EmulatorChip
from drivers.population import ChipByChip, PopulationResult, SimulatedPopulation
from sim.chip.batched import BatchedChips
from sim.chip.config import EMPTY
from sim.backend import cupy_available
from sim.chip import kernel_numpy
from sim.chip.spec import ISYN_MAX, V_RANGE
from tests.chip_factories import (BUILTIN, CPU_PATHS, GPU_PATHS, chip_seeds, configs, input_rasters,
                                  mismatch_levels, noise_amplitudes, noise_seeds, random_chip_seed, random_config,
                                  random_inputs, random_level, random_noise, simulated, small_specs)

NEEDS_GPU = pytest.mark.skipif(not cupy_available(), reason="no GPU/CuPy")
FUSED = CPU_PATHS[0]
# No shrinking: configurations come from a generator seed, so shrinking cannot simplify them and
# only burns CI time; the failing example (and its reproduction blob) is printed as drawn.
PROPERTY = settings(max_examples=8, deadline=None, print_blob=True,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def trials(seeds, inputs, noise):
    """The population arguments of chips `seeds` on `inputs` ([T, M] shared, broadcast over the
    trials so that the simulator runs it as one raster; or [B, T, M]) with `noise` (one noise
    seed for every chip, or one per chip)."""
    b = len(seeds)
    rasters = inputs if inputs.ndim == 3 else np.broadcast_to(inputs, (b, *inputs.shape))
    noise = [int(s) for s in np.broadcast_to(np.asarray(noise, dtype=object), (b,))]
    return dict(inputs=rasters, chip_seeds=list(seeds), noise_seeds=noise)


def assert_equivalent(config, seeds, level, inputs, amplitudes, noise_seeds_, *, path=FUSED, neurons=None,
                      threads=None) -> PopulationResult:
    """Run the simulated population on kernel `path` once (state recorded, and again unrecorded
    with `neurons`) and the emulated one (an EmulatorChip per distinct seed, every run from
    power-on); every bit must match. `amplitudes`: one noise amplitude, or one per chip.
    Returns the simulated result."""
    b, n, steps = len(seeds), config.spec.n_neurons, inputs.shape[-2]
    run = dict(trials(seeds, inputs, noise_seeds_), noise_amplitude=amplitudes)
    population = simulated(level, path, threads)
    batched = population.run(config, **run, record_state=True)
    assert batched.spikes.shape == (b, steps, n) and batched.spikes.dtype == bool
    assert batched.v.shape == (b, steps, n) and batched.isyn.shape == (b, steps, 4, n)
    assert batched.refr.shape == (b, steps, n)
    emulated = ChipByChip.for_emulator(config.spec, level)
    labels, where = ("the emulator", "/".join(path)), f"chips {list(seeds)} at level {level!r}"
    assert_same_result(emulated.run(config, **run, record_state=True), batched, labels=labels, where=where)
    emulated.close()
    # the unrecorded fast path (only enabled neurons simulated) with a neuron selection
    if neurons is None:
        neurons = np.random.default_rng(len(seeds)).permutation(n)[: max(1, n // 3)]
    fast = population.run(config, **run, neurons=neurons)
    assert fast.v is None and fast.spikes.shape == (b, steps, len(neurons))
    assert fast.activity is not None and batched.activity is not None
    assert_same_result(PopulationResult(batched.spikes[:, :, neurons], activity=batched.activity), fast,
                       labels=(labels[1] + " recorded", labels[1] + " unrecorded"), where=f"{where}, neurons=")
    # the spec's invariants hold in the recorded state
    assert batched.isyn.min() >= 0 and batched.isyn.max() <= ISYN_MAX
    assert batched.v.min() >= V_RANGE[0] and batched.v.max() <= V_RANGE[1]
    assert not batched.spikes[:, :, ~config.enabled].any()
    assert not batched.v[:, :, ~config.enabled].any()
    return batched


# ---- property tests --------------------------------------------------------------------------
@PROPERTY
@given(config=configs(), chip_seed=chip_seeds, level=mismatch_levels, amplitude=noise_amplitudes,
       noise_seed=noise_seeds, steps=st.integers(20, 40), path=st.sampled_from(CPU_PATHS), data=st.data())
def test_builtin_specs_emulator_equals_batched(config, chip_seed, level, amplitude, noise_seed, steps, path, data):
    inputs = data.draw(input_rasters(config.spec, steps))
    assert_equivalent(config, [chip_seed], level, inputs, amplitude, noise_seed, path=path)


@settings(PROPERTY, max_examples=40)
@given(config=configs(small_specs), seeds=st.lists(chip_seeds, min_size=1, max_size=3),
       level=mismatch_levels, amplitude=noise_amplitudes, noise_seed=noise_seeds, steps=st.integers(20, 80),
       path=st.sampled_from(CPU_PATHS), data=st.data())
def test_small_specs_emulator_equals_batched(config, seeds, level, amplitude, noise_seed, steps, path, data):
    inputs = data.draw(input_rasters(config.spec, steps))
    assert_equivalent(config, seeds, level, inputs, amplitude, noise_seed, path=path)


@settings(PROPERTY, max_examples=4)
@given(config=configs(), seed_pool=st.lists(chip_seeds, min_size=1, max_size=3), picks=st.lists(
    st.integers(0, 2), min_size=2, max_size=5), level=mismatch_levels, amplitude=noise_amplitudes,
    noise_pool=st.lists(noise_seeds, min_size=2, max_size=5), data=st.data())
def test_batches_of_chips_with_repeats_per_chip_inputs_and_noise(config, seed_pool, picks, level, amplitude,
                                                                  noise_pool, data):
    seeds = [seed_pool[i % len(seed_pool)] for i in picks]  # repeated seeds on purpose
    noise = [noise_pool[i % len(noise_pool)] for i in range(len(seeds))]
    if data.draw(st.booleans(), label="an amplitude per chip"):  # repeats too: trials group by amplitude
        amplitude = data.draw(st.lists(st.sampled_from([amplitude, 0, 300]), min_size=len(seeds),
                                       max_size=len(seeds)))
    inputs = data.draw(input_rasters(config.spec, 20, batch=len(seeds)))
    neurons = data.draw(st.lists(st.integers(0, config.spec.n_neurons - 1), min_size=1, max_size=40))
    assert_equivalent(config, seeds, level, inputs, amplitude, noise,
                      path=data.draw(st.sampled_from(CPU_PATHS)), neurons=np.array(neurons))


# ---- seeded cases ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("spec", BUILTIN)
@pytest.mark.parametrize("case", range(2))
def test_seeded_random_cases(spec, path, case):
    rng = np.random.default_rng([case, len(spec), CPU_PATHS.index(path)])
    config = random_config(rng, spec)
    amplitude, noise_seed = random_noise(rng)
    inputs = random_inputs(rng, int(rng.integers(20, 40)), config.spec.inputs, rate=0.1)
    seeds = [random_chip_seed(rng), random_chip_seed(rng)]
    assert_equivalent(config, seeds, random_level(rng), inputs, amplitude, noise_seed, path=path)


def test_auto_propagation_switches_within_a_run_and_stays_exact(monkeypatch):
    """Quiet steps go event by event, busy steps through the matrix product: both in one run."""
    rng = np.random.default_rng(5)
    config = random_config(rng, "dynapse1")
    inputs = random_inputs(rng, 40, config.spec.inputs, rate=0.02)
    inputs[20:] = random_inputs(rng, 20, config.spec.inputs, rate=0.9)  # a busy second half
    calls = {"dense": 0, "events": 0}
    dense_path, events_path = kernel_numpy.VectorKernel._propagate_dense, kernel_numpy.VectorKernel._propagate_events

    def counting(name, path):
        def wrapped(self, *args):
            calls[name] += 1
            return path(self, *args)
        return wrapped

    monkeypatch.setattr(kernel_numpy.VectorKernel, "_propagate_dense", counting("dense", dense_path))
    monkeypatch.setattr(kernel_numpy.VectorKernel, "_propagate_events", counting("events", events_path))
    monkeypatch.setattr(kernel_numpy, "EVENT_COST", 3000)  # threshold between the two halves
    assert_equivalent(config, [3, 4], "spec", inputs, 0, 0, path=("numpy", "vector", "auto"), threads=1)
    assert calls["dense"] > 0 and calls["events"] > 0, calls


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("spec", BUILTIN)
def test_extreme_configs_hit_saturation_and_clipping_identically(spec, path):
    """Every core in the 'extreme' regime, dense inputs, big noise: the runs must actually
    reach isyn = 2**24-1 and v = -2**23, and still agree bit for bit."""
    rng = np.random.default_rng(11)
    config = random_config(rng, spec, fill=0.3 if spec == "dynapse1" else 0.03, p_input=0.9, p_disabled=0.1,
                           regimes=("extreme",))
    config.wsyn[0] = [[255, 7]] * 4           # core 0: every type at the largest weight
    config.dsyn[0] = [[1, 0]] * 4             # and almost no decay: isyn saturates and stays
    config.theta[1] = [255, 15]               # core 1: highest threshold, strong inhibition
    config.wsyn[1] = [[0, 0], [0, 0], [255, 7], [255, 7]]
    inputs = random_inputs(rng, 30, config.spec.inputs, rate=0.5)
    result = assert_equivalent(config, [7, 2**64 - 1], 0.25, inputs, 5000, 2**63 + 5, path=path)
    assert (result.isyn == ISYN_MAX).any(), "isyn saturation not exercised"
    assert (result.v == V_RANGE[0]).any(), "negative v clipping not exercised"
    assert result.spikes.any() and (result.refr > 0).any()


@pytest.mark.parametrize("path", CPU_PATHS)
def test_seventeen_chips_on_threads_equal_the_emulator(path):
    """B = 17 > 2 × MIN_CHUNK: the vector path splits the chips across threads, the fused one
    hands them to Numba's threads."""
    rng = np.random.default_rng(3)
    config = random_config(rng, "dynapse1", fill=0.3, p_input=0.5, p_disabled=0.1, regimes=("active",))
    seeds = [random_chip_seed(rng) for _ in range(5)]
    chip_seeds_ = [seeds[i % 5] for i in range(17)]
    inputs = random_inputs(rng, 10 if path[2] == "dense" else 25, 64, rate=0.05, batch=17)
    noise = [int(s) for s in rng.integers(0, 2**63, 17)]
    one = simulated("spec", path, threads=1).run(config, **trials(chip_seeds_, inputs, noise), noise_amplitude=200,
                                                 record_state=True)
    many = assert_equivalent(config, chip_seeds_, "spec", inputs, 200, noise, path=path, threads=3)
    assert_same_result(one, many, labels=("1 thread", "3 threads"), where="/".join(path))
    assert many.spikes.any()


@pytest.mark.parametrize("path", CPU_PATHS)
def test_an_amplitude_per_trial_equals_the_emulator_and_each_trial_alone(path):
    """Trials of different noise amplitudes (in batches of at most max_batch) give the bits
    they give on the emulator, and alone."""
    rng = np.random.default_rng(6)
    config = random_config(rng, "dynapse1", fill=0.3, regimes=("active",))
    seeds, amplitudes = [4, 9, 4, 2**64 - 1, 9], [300, 0, 5000, 300, 300]
    inputs = random_inputs(rng, 30, 64, rate=0.1)
    assert_equivalent(config, seeds, "spec", inputs, amplitudes, 8, path=path)
    population = SimulatedPopulation("spec", path[0], max_batch=2, kernel=path[1], propagation=path[2])
    together = population.run(config, **trials(seeds, inputs, 8), noise_amplitude=amplitudes, record_state=True)
    for i, (seed, amplitude) in enumerate(zip(seeds, amplitudes)):
        alone = population.run(config, **trials([seed], inputs, 8), noise_amplitude=amplitude, record_state=True)
        assert_same_result(alone, together.subset([i]), labels=("alone", "among the others"), where=f"trial {i}")
    assert not np.array_equal(together.v[0], together.v[2]), "the amplitude should change the run"
    with pytest.raises(ValueError, match="2 amplitudes for 5 trials"):
        population.run(config, **trials(seeds, inputs, 8), noise_amplitude=[0, 1])


def config_with_unused_neurons(rng: np.random.Generator):
    """dynapse1 with every kind of neuron that can never spike on core 3 (idc < 0): enabled with
    an empty CAM, with inhibitory slots only, fed only by such neurons (a dead chain), or fed by
    an excitatory type whose weight is 0; and live ones beside them (fed by inputs)."""
    config = random_config(rng, "dynapse1", fill=0.3, p_input=0.5, p_disabled=0.0, regimes=("active",))
    config.idc[3] = [255, 6, 1]                  # -16320: noise up to 300 never makes it positive
    config.wsyn[3] = [[30, 5], [0, 0], [150, 5], [75, 5]]  # NMDA weight 0 on core 3
    core3 = np.arange(768, 1024)
    config.cam_source[core3] = EMPTY             # 768..799 stay empty
    config.cam_type[core3] = 0
    config.cam_source[800:830, :5] = rng.integers(0, 64 + 1024, (30, 5))  # inhibitory only
    config.cam_type[800:830, :5] = rng.integers(2, 4, (30, 5))
    config.cam_source[830:860, :3] = 64 + rng.integers(768, 830, (30, 3))  # fed only by dead neurons
    config.cam_source[860:880, :4] = rng.integers(0, 64, (20, 4))  # NMDA from inputs, weight 0
    config.cam_type[860:880, :4] = 1
    config.cam_source[880:1024, :6] = rng.integers(0, 64, (144, 6))  # live: AMPA from inputs
    config.cam_source[900:920, 6] = 64 + rng.integers(768, 830, 20)  # and a dead neuron among them
    config.cam_source[0:40, 60:] = 64 + rng.integers(768, 880, (40, 4))  # live neurons listen to dead ones
    config.cam_type[0:40, 60:] = rng.integers(0, 4, (40, 4))
    return config.validate()


def check_unused_neurons_left_out(path):
    """Unused neurons (enabled, no drive, no excitatory input that can spike) are not simulated
    when no state is recorded, and the runs still equal the emulator's, recorded state (every
    neuron) and activity counters included; a noise large enough to drive them brings them back."""
    rng = np.random.default_rng(12)
    config = config_with_unused_neurons(rng)
    dead = np.r_[768:880]
    chips = BatchedChips(config, [1, 2], "spec")
    assert not chips.can_spike(300)[dead].any() and chips.can_spike(300)[880:].all()
    assert chips.can_spike(300).sum() == 1024 - dead.size
    assert chips.can_spike(20000)[dead].all()  # idc + noise can then be positive
    inputs = random_inputs(rng, 40, 64, rate=0.1)
    for amplitude in (0, 300, 20000):
        result = assert_equivalent(config, [1, 2, 1], "spec", inputs, amplitude, 3, path=path,
                                   neurons=np.r_[0:1024:5])
        assert result.spikes[:, :, :768].any()
        assert result.v[:, :, dead].any(), "the unused neurons' state is recorded"
        assert not result.spikes[:, :, dead].any() if amplitude < 20000 else True


@pytest.mark.parametrize("path", CPU_PATHS)
def test_neurons_that_never_spike_are_left_out_and_the_bits_stay_the_same(path):
    check_unused_neurons_left_out(path)


def test_repeated_seed_same_input_and_noise_give_identical_chips():
    rng = np.random.default_rng(9)
    config = random_config(rng, "dynapse1", fill=0.3, regimes=("active",), p_disabled=0.0)
    inputs = random_inputs(rng, 40, 64, rate=0.1)
    population = SimulatedPopulation(0.3, "numpy")
    result = population.run(config, **trials([5, 6, 5], inputs, [1, 1, 1]), noise_amplitude=100, record_state=True)
    assert_same_result(result.subset([0]), result.subset([2]), labels=("chip 5", "chip 5 again"))
    assert not np.array_equal(result.v[0], result.v[1]), "different chips should differ at cv 0.3"
    other = population.run(config, **trials([5, 6, 5], inputs, [1, 1, 2]), noise_amplitude=100, record_state=True)
    assert not np.array_equal(other.v[0], other.v[2]), "a different noise seed must change the run"


def test_emulator_runs_start_from_power_on():
    """A population of one emulator (loaded once) gives the same bits before and after another
    run on that chip."""
    rng = np.random.default_rng(4)
    config = random_config(rng, "dynapse1", fill=0.3, regimes=("active",))
    inputs = random_inputs(rng, 30, 64, rate=0.1)
    chip = EmulatorChip("dynapse1", chip_seed=3)
    population = ChipByChip.for_chip(chip)
    run = dict(trials([3], inputs, 1), noise_amplitude=50, record_state=True)
    first = population.run(config, **run)
    chip.run(random_inputs(rng, 7, 64, rate=0.5))
    assert_same_result(first, population.run(config, **run), labels=("first run", "after another run"))
    assert first.spikes.any()


# ---- CuPy -----------------------------------------------------------------------------------------
@NEEDS_GPU
@pytest.mark.parametrize("path", GPU_PATHS)
@pytest.mark.parametrize("spec", BUILTIN)
@pytest.mark.parametrize("case", range(3))
def test_cupy_seeded_cases_equal_the_emulator(spec, path, case):
    rng = np.random.default_rng([case, 77, len(spec)])
    config = random_config(rng, spec, regimes=("active", "extreme", "any") if case else ("extreme",))
    amplitude, noise_seed = random_noise(rng)
    seeds = [random_chip_seed(rng), random_chip_seed(rng), 0]
    seeds.append(seeds[0])  # a repeated seed
    inputs = random_inputs(rng, 30, config.spec.inputs, rate=0.2, batch=len(seeds) if case == 2 else None)
    noise = [(noise_seed + i) % 2**64 for i in range(len(seeds))] if case == 1 else noise_seed
    assert_equivalent(config, seeds, random_level(rng) if case else "spec", inputs, amplitude, noise, path=path)


@NEEDS_GPU
@settings(PROPERTY, max_examples=10)
@given(config=configs(), seeds=st.lists(chip_seeds, min_size=1, max_size=3), level=mismatch_levels,
       amplitude=noise_amplitudes, noise_seed=noise_seeds, path=st.sampled_from(GPU_PATHS), data=st.data())
def test_cupy_property_emulator_equals_batched(config, seeds, level, amplitude, noise_seed, path, data):
    inputs = data.draw(input_rasters(config.spec, 30))
    assert_equivalent(config, seeds, level, inputs, amplitude, noise_seed, path=path)


@NEEDS_GPU
def test_cupy_alternating_propagation_within_a_run_stays_exact(monkeypatch):
    """Atomics and the matrix product take turns step by step: each must leave c and src
    as the other expects."""
    from sim.chip import kernel_cupy  # noqa: PLC0415

    choices = []

    def alternate(*_):
        choices.append(len(choices) % 3 == 0)
        return choices[-1]

    monkeypatch.setattr(kernel_cupy, "prefer_dense", alternate)
    rng = np.random.default_rng(8)
    config = random_config(rng, "dynapse1", fill=0.3, regimes=("active",))
    inputs = random_inputs(rng, 30, 64, rate=0.2)
    assert_equivalent(config, [1, 2, 3], "spec", inputs, 300, 9, path=("cupy", "fused", "auto"))
    assert any(choices) and not all(choices)


@NEEDS_GPU
@pytest.mark.parametrize("path", GPU_PATHS)
def test_cupy_leaves_out_neurons_that_never_spike_and_stays_exact(path):
    check_unused_neurons_left_out(path)


@NEEDS_GPU
def test_cupy_equals_the_fused_cpu_kernel_on_a_larger_batch():
    rng = np.random.default_rng(21)
    config = random_config(rng, "dynapse1", fill=0.3, regimes=("active", "extreme"))
    seeds = [random_chip_seed(rng) for _ in range(12)]
    inputs = random_inputs(rng, 50, 64, rate=0.1, batch=12)
    run = lambda path: simulated("spec", path).run(  # noqa: E731
        config, **trials(seeds, inputs, list(range(12))), noise_amplitude=700, record_state=True)
    cpu = run(FUSED)
    for path in GPU_PATHS:
        assert_same_result(cpu, run(path), labels=("/".join(FUSED), "/".join(path)))
