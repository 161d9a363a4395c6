"""The mapping report: what compilation kept, dropped and approximated (JSON and text).

Time constants are in the float model's conventions: membrane τ = 65536/dmem (Euler decay
1 − 1/τ), synaptic τ = −1/ln(1 − dsyn/65536). The threshold is exact by construction
(θ stands for each neuron's v_th − v_reset); the DC drive is reported in thresholds.
With replicas (`compile_network(..., replicas=R)`) the report describes one copy (every
copy has the same CAM and cores) and `replicas` says how many the chip holds.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from harness.compiler.biases import CoreBiases
from harness.compiler.neurons import Normalised
from harness.compiler.weights import MATRICES, Synapses
from sim.atomic import json_default
from sim.chip.config import ChipConfig
from sim.network import SpikingNetwork


def mapping_report(net: SpikingNetwork, config: ChipConfig, norm: Normalised, chip_id: np.ndarray,
                   biases: CoreBiases, syn: Synapses, wsyn: np.ndarray) -> dict[str, Any]:
    """The report of one compilation as plain JSON types."""
    spec = config.spec
    core = spec.core_of(chip_id)
    slots = (config.cam_source != -1).sum(1)[chip_id]
    realised = syn.realised_weight(wsyn, spec.core_of(syn.target))
    matrices = {}
    for m, name in enumerate(MATRICES):
        rows = syn.matrix == m
        if not rows.any():
            continue
        w, r = syn.weight[rows], realised[rows]
        matrices[name] = {"connections": int(rows.sum()), "placed": int((syn.count[rows] > 0).sum()),
                          "mass_dropped": float(np.abs(w[syn.count[rows] == 0]).sum() / np.abs(w).sum()),
                          "quantisation_error": float(np.sqrt(((r - w) ** 2).sum() / (w**2).sum()))}
    nominal = config.nominal()
    cores = []
    for c in range(spec.cores):
        members = core == c
        if not members.any():
            continue
        tau_syn = -1.0 / np.log1p(-nominal["dsyn"][c] / 65536.0)
        span = lambda a: [float(a[members].min()), float(a[members].max())]  # noqa: E731
        cores.append({
            "core": c, "neurons": int(members.sum()),
            "tau_mem": {"desired": _number(biases.desired["tau_mem"][c]), "range": span(norm.tau_mem),
                        "realised": 65536.0 / float(nominal["dmem"][c])},
            "tau_fast": {"desired": _number(biases.desired["tau_fast"][c]), "range": span(norm.tau_fast),
                         "realised": float(tau_syn[0])},
            "tau_slow": {"desired": _number(biases.desired["tau_slow"][c]), "range": span(norm.tau_slow),
                         "realised": float(tau_syn[1])},
            "threshold": {"v_th_range": span(net.v_th), "theta": int(nominal["theta"][c])},
            "drive": {"desired": _number(biases.desired["drive"][c]), "range": span(norm.drive),
                      "realised_idc": biases.idc[c] / biases.kappa[c]},
            "wsyn": [int(v) for v in nominal["wsyn"][c]],
        })
    report = {
        "spec": spec.name, "spec_version": spec.spec_version,
        "network": {"neurons": net.n_neurons, "inputs": net.n_in, "outputs": net.n_out,
                    "task": net.meta.get("task"), "method": net.meta.get("method")},
        "fan_in": {"limit": spec.fan_in, "min": int(slots.min()), "median": float(np.median(slots)),
                   "max": int(slots.max()), "at_limit": float((slots >= spec.fan_in).mean()),
                   "per_neuron": slots.tolist()},
        "matrices": matrices, "cores": cores,
        "input_channels": int(np.unique(syn.source[syn.source < spec.inputs]).size),
    }
    return json.loads(json.dumps(report, default=json_default))


def neurons_text(report: dict[str, Any]) -> str:
    """The network's neurons as a run shows them: "320", or "320 × 3 replicas"."""
    neurons, replicas = report.get("network", {}).get("neurons"), report.get("replicas", 1)
    return f"{neurons} × {replicas} replicas" if replicas > 1 else f"{neurons}"


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def format_report(report: dict[str, Any]) -> str:
    """A human-readable rendering of `mapping_report` (plus accuracy, when measured)."""
    net, fan = report["network"], report["fan_in"]
    lines = [f"mapping report: {net['neurons']}-neuron {net.get('method') or '?'} network for task "
             f"{net.get('task') or '?'} on spec {report['spec']} ({report['spec_version']})",
             *([f"  placed as {report['replicas']} replicas: {report['replicas'] * net['neurons']} chip neurons, "
                "each copy with its own recurrence, inputs shared, one readout over all copies"]
               if report.get("replicas", 1) > 1 else []),
             f"  fan-in used per neuron: min {fan['min']}, median {fan['median']:g}, max {fan['max']} of "
             f"{fan['limit']} ({100 * fan['at_limit']:.0f}% of neurons at the limit)",
             f"  input channels used: {report['input_channels']}",
             "  matrix   connections  placed   mass dropped  quantisation error (rel. L2)"]
    for name, m in report["matrices"].items():
        lines.append(f"  {name:<8} {m['connections']:>11}  {m['placed']:>6}   {100 * m['mass_dropped']:>10.1f}%  "
                     f"{100 * m['quantisation_error']:>10.1f}%")
    lines.append("  core neurons  tau_mem des/real    tau_fast des/real   tau_slow des/real   theta     "
                 "drive des/real  wsyn[AMPA,NMDA,GABA_A,GABA_B]")
    fmt = lambda v: "   -  " if v is None else f"{v:6.2f}"  # noqa: E731
    for c in report["cores"]:
        lines.append(f"  {c['core']:>4} {c['neurons']:>7}  "
                     f"{fmt(c['tau_mem']['desired'])}/{fmt(c['tau_mem']['realised'])}"
                     f"     {fmt(c['tau_fast']['desired'])}/{fmt(c['tau_fast']['realised'])}"
                     f"     {fmt(c['tau_slow']['desired'])}/{fmt(c['tau_slow']['realised'])}"
                     f"   {c['threshold']['theta']:>8}  {fmt(c['drive']['desired'])}/{fmt(c['drive']['realised_idc'])}"
                     f"  {c['wsyn']}")
    accuracy = report.get("accuracy")
    if accuracy:
        lines.append(f"  accuracy on {accuracy['split']} ({accuracy['samples']} samples): float "
                     f"{100 * accuracy['float']:.1f}%, nominal chip {100 * accuracy['nominal']:.1f}%"
                     + (f" (before refit {100 * accuracy['nominal_before_refit']:.1f}%)"
                        if accuracy.get("nominal_before_refit") is not None else ""))
        chips = accuracy.get("chips")
        if chips:
            lines.append(f"  {len(chips['per_chip'])} virtual chips at mismatch {chips['mismatch']}: median "
                         f"{100 * chips['median']:.1f}%, min {100 * chips['min']:.1f}%, max {100 * chips['max']:.1f}%")
    return "\n".join(lines)
