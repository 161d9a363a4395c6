"""Energy and activity per inference, under NeuroBench's metric names (docs/suites.md, "Energy").

Per chip, the mean activity counters over a condition's test samples (one sample = one
inference) and the power model's energy per inference (`sim.chip.power`, at the condition's
supply voltage, the nominal one unless the condition sets it). Per condition, NeuroBench's
workload metrics — `synaptic_operations` (`Effective_ACs`: synaptic events, each one
accumulate; `Effective_MACs` 0: the chip multiplies nothing per event; `Dense`: every filled
CAM slot receiving at every step), `activation_sparsity` (1 − spikes / (enabled neurons ×
steps)) — and its static ones — `footprint` (bytes of the configuration bits used),
`connection_sparsity` (zero entries of the chip's weight tensor [4 types, inputs + enabled
neurons, enabled neurons]) — beside the energy, spikes, CAM entries, configuration bits and
latency (steps × dt). Means over chips come with their standard error.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from sim.chip.activity import COUNTERS, Activity
from sim.chip.config import EMPTY, ChipConfig
from sim.chip.spec import DAC_COARSE_MAX, DAC_FINE_MAX, SYNAPSE_TYPES, T_REF_RANGE
from sim.stats import mean_and_stderr

ENERGY = "energy_per_inference"  # a chip measurement, J
# counter -> the chip measurement of its mean per inference
PER_INFERENCE = {"spike_count": "spikes_per_inference", "synaptic_events": "synaptic_events_per_inference",
                 "input_events": "input_events_per_inference", "routed_events": "routed_events_per_inference"}
EVENTS = "events/inference"


def per_inference(activity: Activity, chips: int) -> dict[str, np.ndarray]:
    """Mean counters per inference of each of `chips` chips [chips], from counters of trials
    ordered chip by chip (as `harness.deploy.population_spikes` runs them)."""
    return {name: getattr(activity, name).reshape(chips, -1).mean(axis=1) for name in COUNTERS}


def energy_per_inference(config: ChipConfig, counts: Mapping[str, float], steps: int,
                         volts: float | None = None) -> dict[str, Any] | None:
    """The power model's energy of one inference with mean event `counts` over `steps` steps
    (None when the spec has no power model)."""
    spec = config.spec
    if spec.power is None:
        return None
    return spec.power.energy(counts, steps * spec.dt_ms / 1000.0, spec.cores, volts)


def config_bits(config: ChipConfig) -> dict[str, int]:
    """CAM entries used and the configuration bits they and the chip's settings take: per
    filled slot a source id and a 2-bit type; per core 11 DAC biases (fine + coarse bits),
    the sign of idc and t_ref; one enable bit per neuron."""
    spec = config.spec
    entries = int(np.count_nonzero(config.cam_source != EMPTY))
    source_bits = math.ceil(math.log2(spec.n_sources))
    dac_bits = DAC_FINE_MAX.bit_length() + DAC_COARSE_MAX.bit_length()
    biases = (3 + 2 * len(SYNAPSE_TYPES)) * dac_bits + 1 + T_REF_RANGE[1].bit_length()
    bits = entries * (source_bits + 2) + spec.cores * biases + spec.n_neurons
    return {"cam_entries": entries, "config_bits": bits}


def static_metrics(config: ChipConfig) -> dict[str, Any]:
    """NeuroBench's static metrics of a configuration, with CAM entries and configuration bits."""
    spec = config.spec
    used = config_bits(config)
    n = int(np.count_nonzero(config.enabled))
    source, target, kind = config.synapses()
    enabled_source = (source < spec.inputs) | config.enabled[np.maximum(source - spec.inputs, 0)]
    keep = config.enabled[target] & enabled_source
    nonzero = np.unique(np.stack([source[keep], target[keep], kind[keep]]), axis=1).shape[1] if keep.any() else 0
    possible = len(SYNAPSE_TYPES) * (spec.inputs + n) * n
    return {"footprint": math.ceil(used["config_bits"] / 8), "connection_sparsity":
            1.0 - nonzero / possible if possible else 1.0, **used, "enabled_neurons": n}


def workload_metrics(config: ChipConfig, per_chip: Mapping[str, Sequence[float]], steps: int,
                     volts: float | None = None) -> dict[str, Any]:
    """A condition's metrics from its chips' measurements `per_chip` (PER_INFERENCE names and
    ENERGY, one value per chip): NeuroBench's names, the energy, means with standard errors."""
    spec = config.spec
    statics = static_metrics(config)
    means = {name: _mean(per_chip[PER_INFERENCE[name]]) for name in COUNTERS}
    synaptic, spikes = means["synaptic_events"], means["spike_count"]
    neuron_steps = statics["enabled_neurons"] * steps
    model = energy_per_inference(config, {name: means[name]["mean"] for name in COUNTERS}, steps, volts)
    return {
        "synaptic_operations": {"Effective_ACs": synaptic["mean"], "Effective_MACs": 0.0,
                                "Dense": float(statics["cam_entries"] * steps), "Effective_ACs_stderr": synaptic["stderr"]},
        "activation_sparsity": 1.0 - spikes["mean"] / neuron_steps if neuron_steps else 1.0,
        "footprint": statics["footprint"], "connection_sparsity": statics["connection_sparsity"],
        "spikes_per_inference": spikes,
        "input_events_per_inference": means["input_events"]["mean"],
        "routed_events_per_inference": means["routed_events"]["mean"],
        "energy_per_inference": {"model_j": _mean(per_chip[ENERGY]) if ENERGY in per_chip else None,
                                 "breakdown": model,
                                 "unavailable": None if spec.power is not None else
                                 f"spec {spec.name} has no power model ([power] table)"},
        "latency_per_inference_s": steps * spec.dt_ms / 1000.0,
        "cam_entries": statics["cam_entries"], "config_bits": statics["config_bits"],
        "enabled_neurons": statics["enabled_neurons"], "steps": steps,
        "supply_v": model["supply_v"] if model else None,
    }


def _mean(values: Sequence[float]) -> dict[str, float]:
    """Mean and its standard error over chips (0 for one chip)."""
    return mean_and_stderr(values, one_value_stderr=0.0)


def energy_table(tests: Sequence[dict[str, Any]]) -> list[str]:
    """The report's energy table (Markdown lines): one row per suite, network and condition
    whose verdict carries energy metrics."""
    rows = []
    for v in sorted((t for t in tests if t.get("energy")), key=lambda t: (t["suite"], t["network"], t["condition"])):
        e = v["energy"]
        model, breakdown = e["energy_per_inference"]["model_j"], e["energy_per_inference"]["breakdown"]
        energy = (f"{1e6 * model['mean']:.2f} ± {1e6 * model['stderr']:.2f}" if model else
                  f"n/a ({e['energy_per_inference']['unavailable']})")
        split = (f"{1e6 * breakdown['static_j']:.2f} / {1e6 * breakdown['dynamic_j']:.2f}" if breakdown else "—")
        board = e["energy_per_inference"].get("measured")
        measured = "—" if not board else f"{1e6 * board['mean_j']:.2f}" + (
            f" ({100 * board['model_error']:+.1f}%)" if board["model_error"] is not None else "")
        rows.append(f"| {v['suite']} | {v['network']} | {v['condition']} | {energy} | {split} | {measured} | "
                    f"{e['synaptic_operations']['Effective_ACs']:.4g} | {e['spikes_per_inference']['mean']:.4g} | "
                    f"{e['activation_sparsity']:.4f} | {e['connection_sparsity']:.4f} | {e['footprint']} | "
                    f"{e['cam_entries']} | {1e3 * e['latency_per_inference_s']:.0f} |")
    if not rows:
        return []
    return ["## Energy and activity per inference", "",
            "Model energy per inference (chip power model, docs/chip-spec.md; at the condition's supply voltage, "
            "nominal otherwise): mean over chips ± standard error, µJ; static / dynamic split of the mean. "
            "NeuroBench names: synaptic operations = `Effective_ACs` (CAM slots receiving an event, counts "
            "multiplying), `activation_sparsity`, `connection_sparsity`, `footprint` (bytes of configuration "
            "bits). Latency = steps × dt. Measured: a board's power monitor over the driver check's last "
            "inference (mean over the checked chips; the model's error in parentheses), where the target has one.", "",
            "| suite | network | condition | energy/inference (µJ) | static / dynamic (µJ) | measured (µJ) | "
            "Effective_ACs | spikes | activation sparsity | connection sparsity | footprint (B) | CAM entries | "
            "latency (ms) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, ""]


def energy_line(config: ChipConfig, activity: Activity | None, steps: int) -> str:
    """One line for `harness deploy`: the model's energy per inference and the activity behind
    it, or why there is none (a target that does not count, a spec without a power model)."""
    if activity is None:
        return "energy per inference: not available (the target returned no activity counters)"
    counts = {name: float(getattr(activity, name).mean()) for name in COUNTERS}
    energy = energy_per_inference(config, counts, steps)
    activity_text = (f"{counts['synaptic_events']:.4g} synaptic events, {counts['spike_count']:.4g} spikes, "
                     f"{counts['input_events']:.4g} input events")
    if energy is None:
        return f"energy per inference: not available (spec {config.spec.name} has no power model); {activity_text}"
    return (f"energy per inference (model, {energy['supply_v']:g} V): {1e6 * energy['total_j']:.2f} uJ "
            f"(static {1e6 * energy['static_j']:.2f}, dynamic {1e6 * energy['dynamic_j']:.2f}); "
            f"per inference {activity_text}")


def monitor_line(config: ChipConfig, chip: Any, activity: Activity | None, steps: int) -> str | None:
    """For a target with a power monitor (`read_power`): its energy of the last inference beside
    the model's for the same counters, and the model's error; None for a target without one."""
    if not hasattr(chip, "read_power") or "power_monitor" not in chip.identity().capabilities:
        return None
    reading = chip.read_power()
    measured = sum(reading.rails.values())
    model = energy_per_inference(config, activity.counts(-1), steps) \
        if activity is not None else None
    rails = ", ".join(f"{rail} {1e6 * joules:.2f}" for rail, joules in reading.rails.items())
    text = f"board power monitor, last inference: {1e6 * measured:.2f} uJ ({rails})"
    if model is None:
        return text + "; no model to compare"
    return text + f"; model {1e6 * model['total_j']:.2f} uJ (model error {100 * (model['total_j'] / measured - 1):+.1f}%)"


def smu_lines(config: ChipConfig, chip: Any, inputs: np.ndarray, backend: str, address: str,
              repetitions: int, samples: int) -> list[str]:
    """Energy per inference of `chip` on one encoded input [T, M] measured with the SMU at
    `address` (VISA `backend`; "sim": the simulated lab, which needs a virtual board with a
    power monitor): idle, active, dynamic; beside the model's. InstrumentError and ChipError
    propagate (and InstrumentError for a spec without a power model, or the simulated lab
    without a virtual board): a configured measurement that fails is an error, never a 0."""
    from drivers.instruments import SIM, InstrumentError, SourceMeter, resource_manager  # noqa: PLC0415 - VISA loads on demand
    from drivers.instruments.energy_meter import measure_energy  # noqa: PLC0415
    from drivers.instruments.simlab import SimulatedLoad  # noqa: PLC0415
    spec = config.spec
    if spec.power is None:
        raise InstrumentError(f"spec {spec.name} has no power model: no nominal supply for the SMU to source")
    seconds = len(inputs) * spec.dt_ms / 1000.0
    runs: list[Any] = []

    def inference() -> float:
        runs.append(chip.run(inputs))
        return seconds

    with SourceMeter.open(resource_manager(backend), address) as smu:
        smu.source_voltage(spec.power.nominal_supply_v, current_limit=0.1)
        if backend == SIM and not hasattr(chip, "read_power"):
            raise InstrumentError(f"SMU {address} in the simulated lab draws a virtual board's power: give --target a "
                                  f"virtual board (harness emulate), or a real lab's VISA backend")
        load = SimulatedLoad(smu, chip, spec) if backend == SIM else None
        measured = measure_energy(smu, inference, samples=samples, repetitions=repetitions, load=load).summary()
    model = energy_per_inference(config, runs[-1].activity.counts(0),
                                 len(inputs)) if runs and runs[-1].activity is not None else None
    fmt = lambda s, scale=1e6: f"{scale * s['mean']:.2f} ± {scale * s['stderr']:.2f}"  # noqa: E731
    lines = [f"SMU {address}, {repetitions} repetitions at {spec.power.nominal_supply_v:g} V: idle "
             f"{fmt(measured['idle_power_w'])} uW, active {fmt(measured['active_power_w'])} uW, dynamic "
             f"{fmt(measured['dynamic_power_w'])} uW",
             f"energy per inference (SMU): {fmt(measured['energy_per_inference_j'])} uJ, dynamic "
             f"{fmt(measured['dynamic_energy_per_inference_j'])} uJ"]
    if model is not None:
        total = measured["energy_per_inference_j"]["mean"]
        lines.append(f"energy per inference (model, same inference): {1e6 * model['total_j']:.2f} uJ, dynamic "
                     f"{1e6 * model['dynamic_j']:.2f} uJ (model error {100 * (model['total_j'] / total - 1):+.1f}%)")
    return lines
