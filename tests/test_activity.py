"""Activity counters (docs/chip-spec.md, "Activity counters") recounted from first principles.

For random configurations and inputs with counts 0..15, the counters of the emulator and
of every kernel path of the batched simulator (the CPU paths, and the CuPy ones where a GPU
is present; state recorded or not, i.e. with or without the disabled neurons simulated)
equal a recount made here from the recorded spike raster and the configuration's CAM table
alone: spikes; input events (counts summed); synaptic events
(each filled CAM slot receives its source's count at each step, a neuron's spike of step
t − 1 arriving at step t); routed events (each source event reaches every core holding one
of its slots). The virtual board's counters are recounted the same way in
tests/test_energy_measured.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from drivers.emulator import EmulatorChip
from drivers.population import ChipByChip
from sim.chip.activity import COUNTERS, Activity, EventFanOut
from sim.chip.batched import BatchedChips
from sim.chip.config import EMPTY
from sim.backend import cupy_available
from tests.chip_factories import CPU_PATHS, GPU_PATHS, make_spec, random_config, random_inputs, simulated


def recount(config, inputs: np.ndarray, spikes: np.ndarray) -> dict[str, int]:
    """The counters of one run, slot by slot from the CAM table: inputs [T, M], spikes [T, N]."""
    spec = config.spec
    m = spec.inputs
    sent = spikes[:-1].sum(axis=0)  # the last step's spikes reach their targets after the run
    events_of = lambda source: int(inputs[:, source].sum()) if source < m else int(sent[source - m])  # noqa: E731
    synaptic, cores_of = 0, {}
    for neuron in range(spec.n_neurons):
        for source in config.cam_source[neuron]:
            if source == EMPTY:
                continue
            synaptic += events_of(int(source))
            cores_of.setdefault(int(source), set()).add(neuron // spec.neurons_per_core)
    routed = sum(events_of(source) * len(cores) for source, cores in cores_of.items())
    return {"spike_count": int(spikes.sum()), "input_events": int(inputs.sum()), "synaptic_events": synaptic,
            "routed_events": routed}


def check_counts(activity: Activity, config, inputs: np.ndarray, spikes: np.ndarray, label: str) -> None:
    for trial in range(len(inputs)):
        expected = recount(config, inputs[trial], spikes[trial])
        got = {name: int(getattr(activity, name)[trial]) for name in COUNTERS}
        assert got == expected, f"{label}, trial {trial}: counted {got}, recounted {expected}"


CASES = [("dynapse1", 0), ("dynapse1", 1), ("tiny", 2), ("tiny", 3)]


@pytest.mark.parametrize("spec_name,seed", CASES)
def test_counters_equal_a_recount_from_the_raster_and_the_cam(spec_name, seed):
    rng = np.random.default_rng(seed)
    spec = make_spec(cores=3, neurons_per_core=5, inputs=4, fan_in=6) if spec_name == "tiny" else spec_name
    config = random_config(rng, spec, fill=0.4, p_disabled=0.15, regimes=("active",))
    seeds = [int(s) for s in rng.integers(0, 2**63, 3)]
    inputs = random_inputs(rng, 25, config.spec.inputs, rate=0.3, batch=3)
    assert inputs.max() > 1, "counts must multiply somewhere"
    run = dict(inputs=inputs, chip_seeds=seeds, noise_seeds=[1, 2, 3], noise_amplitude=50)
    emulated = ChipByChip.for_emulator(config.spec, "spec").run(config, **run)
    assert emulated.spikes[:, :-1].any(), "no spike to propagate: the test would mean little"
    check_counts(emulated.activity, config, inputs, emulated.spikes, "emulator")
    for path in CPU_PATHS + (GPU_PATHS if cupy_available() else ()):
        for record in (True, False):
            result = simulated("spec", path).run(config, **run, record_state=record)
            check_counts(result.activity, config, inputs, result.spikes, f"{'/'.join(path)} record={record}")


def test_a_spike_of_the_last_step_reaches_no_one_and_counts_multiply():
    spec = make_spec(cores=2, neurons_per_core=2, inputs=2, fan_in=3)
    config = random_config(np.random.default_rng(0), spec, fill=0.0, p_disabled=0.0)
    config.cam_source[:] = EMPTY
    config.cam_source[0, :2] = [0, 0]   # input 0 twice onto neuron 0 (core 0)
    config.cam_source[2, 0] = 0         # and once onto neuron 2 (core 1)
    config.cam_source[1, 0] = 2         # neuron 0 onto neuron 1 (core 0)
    config.cam_type[:] = 0
    fan_out = EventFanOut.of(config)
    assert fan_out.slots[:3].tolist() == [3, 0, 1] and fan_out.cores[:3].tolist() == [2, 0, 1]
    inputs = np.zeros((1, 3, 2), np.uint8)
    inputs[0, 0, 0] = 7
    fired = np.array([[2, 0, 0, 0]])     # neuron 0 fired twice, once in the last step
    last = np.array([[True, False, False, False]])
    activity = Activity.from_counts(fan_out, inputs.sum(axis=1), fired, last, np.arange(4))
    assert activity.input_events.tolist() == [7]
    assert activity.synaptic_events.tolist() == [7 * 3 + 1]
    assert activity.routed_events.tolist() == [7 * 2 + 1]
    assert activity.spike_count.tolist() == [2]


def test_counting_can_be_turned_off_and_changes_no_bit():
    rng = np.random.default_rng(4)
    config = random_config(rng, "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active",))
    chips = BatchedChips(config, [1, 2], backend="numpy")
    inputs = random_inputs(rng, 20, 64, rate=0.2)
    on, off = chips.run(inputs, noise_amplitude=9), chips.run(inputs, noise_amplitude=9, count=False)
    assert off.activity is None and on.activity is not None
    np.testing.assert_array_equal(on.spikes, off.spikes)


def test_a_single_emulated_run_counts():
    rng = np.random.default_rng(5)
    config = random_config(rng, "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active",))
    chip = EmulatorChip("dynapse1", chip_seed=3)
    chip.load(config)
    inputs = random_inputs(rng, 15, 64, rate=0.2)
    result = chip.run(inputs)
    check_counts(result.activity, config, inputs[None], result.spikes[None], "emulator run")
