"""The float model of a compiled network: what the chip realises, mapped back to float weights.

Every CAM synapse delivers count·wsyn per source event where the float weight w asked for J
(`harness.compiler.weights`), so it stands for the float weight w·count·wsyn/J
(`Synapses.realised_weight`): pruned synapses become 0, the rest carry their integer
rounding and the shared per-core wsyn. An input's two signs travel on different synapses,
so the model has a weight matrix per sign (`w_in` for the positive parts, `w_in_neg` for
the negative ones, as `sim.lif.LIFParams`). The drive is the core's idc plus the realised
bias channel, over κ. Time constants, thresholds and the readout are the float network's
(the readout is best re-fitted on the model's own spikes, as `harness compile` re-fits the
chip's). Under mismatch it is meant to run with each synapse type's own τ
(`sim.perturb.ChipMismatch(per_type_tau=True)`, as `harness robustness --chips` runs it:
docs/fidelity.md 5.12). Not modelled: per-core median τ (exact when a core's neurons share
τ, as in ADS), the sigma-delta input coding, the split of the drive between idc and the bias
channel under mismatch (all of it scales as idc) and the chip's integer state.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from harness.compiler import Mapping, map_network
from harness.compiler.decoding import RIDGE
from harness.compiler.weights import MATRICES
from sim.chip.spec import ChipSpec
from sim.network import SpikingNetwork
from sim.readout import solve_ridge, spike_moments
from sim.tasks.base import Dataset


@dataclass
class CompiledFloat:
    """A float network with the compiled network's realised weights."""

    net: SpikingNetwork   # w_in: weights of the inputs' positive parts
    w_in_neg: np.ndarray  # [n_in, N] weights of the inputs' negative parts
    chip_id: np.ndarray   # [N] chip neuron realising each network neuron


def compiled_float(net: SpikingNetwork, spec: str | ChipSpec, inputs: np.ndarray | None = None,
                   weight_bits: int | None = None) -> CompiledFloat:
    """The float model of `compile_network(net, spec, inputs, weight_bits)` (same mapping)."""
    return realised_network(net, map_network(net, spec, inputs, weight_bits))


def realised_network(net: SpikingNetwork, m: Mapping) -> CompiledFloat:
    """`net` with each weight replaced by what mapping `m` realises (see module doc)."""
    spec = m.config.spec
    syn = m.synapses
    value = syn.realised_weight(m.wsyn, spec.core_of(syn.target))
    neuron_of = np.full(spec.n_neurons, -1)
    neuron_of[m.chip_id] = np.arange(net.n_neurons)
    post = neuron_of[syn.target]
    weights = {name: np.zeros_like(getattr(net, name)) for name in ("w_fast", "w_slow")}
    for name, w in weights.items():
        rows = syn.matrix == MATRICES.index(name)
        np.add.at(w, (neuron_of[syn.source[rows] - spec.inputs], post[rows]), value[rows])
    w_pos, w_neg = np.zeros_like(net.w_in), np.zeros_like(net.w_in)
    positive_of = {int(c): i for i, c in enumerate(m.encoder.positive)}
    negative_of = {int(c): i for i, c in enumerate(m.encoder.negative) if c >= 0}
    for row in np.flatnonzero(syn.matrix == MATRICES.index("w_in")):
        source = int(syn.source[row])
        if source in positive_of:
            w_pos[positive_of[source], post[row]] += value[row]
        else:
            w_neg[negative_of[source], post[row]] += value[row]
    unsigned = m.encoder.negative < 0
    w_neg[unsigned] = w_pos[unsigned]  # never negative: either matrix serves
    core = spec.core_of(m.chip_id)
    residual = np.zeros(net.n_neurons)
    rows = syn.matrix == MATRICES.index("bias")
    np.add.at(residual, post[rows], value[rows])
    drive = (m.biases.idc[core] + residual) / m.biases.kappa[core]
    bias = drive / m.norm.gain - (net.v_rest - net.v_reset)
    realised = net.replace(w_in=w_pos, w_fast=weights["w_fast"], w_slow=weights["w_slow"], bias=bias,
                           meta={**net.meta, "compiled_float": spec.name})
    return CompiledFloat(realised, w_neg, m.chip_id.copy())


def refit_readout(model: CompiledFloat, data: Dataset, backend: str = "numpy") -> CompiledFloat:
    """`model` with its readout re-fitted by ridge on its own nominal spikes over `data` (as
    `harness.deploy.refit_readout` re-fits the compiled network's on the nominal chip)."""
    gram, cross = spike_moments(model.net, data, backend, w_in_neg=model.w_in_neg)
    return replace(model, net=model.net.replace(w_out=solve_ridge(gram, cross, RIDGE)))
