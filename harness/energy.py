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
    synaptic = _mean(per_chip[PER_INFERENCE["synaptic_events"]])
    spikes = _mean(per_chip[PER_INFERENCE["spike_count"]])
    neuron_steps = statics["enabled_neurons"] * steps
    model = energy_per_inference(config, {name: _mean(per_chip[PER_INFERENCE[name]])["mean"] for name in COUNTERS},
                                 steps, volts)
    return {
        "synaptic_operations": {"Effective_ACs": synaptic["mean"], "Effective_MACs": 0.0,
                                "Dense": float(statics["cam_entries"] * steps), "Effective_ACs_stderr": synaptic["stderr"]},
        "activation_sparsity": 1.0 - spikes["mean"] / neuron_steps if neuron_steps else 1.0,
        "footprint": statics["footprint"], "connection_sparsity": statics["connection_sparsity"],
        "spikes_per_inference": spikes,
        "input_events_per_inference": _mean(per_chip[PER_INFERENCE["input_events"]])["mean"],
        "routed_events_per_inference": _mean(per_chip[PER_INFERENCE["routed_events"]])["mean"],
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
    values = np.asarray(values, np.float64)
    stderr = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return {"mean": float(values.mean()), "stderr": stderr}


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
        rows.append(f"| {v['suite']} | {v['network']} | {v['condition']} | {energy} | {split} | "
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
            "bits). Latency = steps × dt.", "",
            "| suite | network | condition | energy/inference (µJ) | static / dynamic (µJ) | Effective_ACs | "
            "spikes | activation sparsity | connection sparsity | footprint (B) | CAM entries | latency (ms) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, ""]


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
