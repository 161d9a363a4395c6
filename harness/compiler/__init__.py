"""Compile a float `SpikingNetwork` to a vc1 chip configuration.

Pipeline (one module each): `neurons` normalises thresholds and drives, `cores` places
neurons on cores, `biases` picks the per-core DAC codes, `encoding` maps task inputs to
input channels, `weights` turns float weights into CAM connection counts, `decoding`
reads the output neurons' spikes back, `replicas` places redundant copies of the network on
the chip, `report` describes the result and `compiled` bundles and saves it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.compiler.biases import CoreBiases, choose_biases
from harness.compiler.compiled import CompiledNetwork
from harness.compiler.cores import assign_cores, check_size
from harness.compiler.decoding import Decoder
from harness.compiler.encoding import Encoder
from harness.compiler.errors import CompileError
from harness.compiler.neurons import Normalised, normalise
from harness.compiler.replicas import replicate
from harness.compiler.report import format_report, mapping_report
from harness.compiler.weights import Synapses, build_synapses, quantise
from sim.chip.config import ChipConfig
from sim.chip.spec import ChipSpec, load_spec
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork

__all__ = ["CompileError", "CompiledNetwork", "compile_network", "format_report"]

BIAS_TOLERANCE = 0.005  # residual drive (in thresholds) below which no bias channel is used
RATE_SAMPLES = 16       # training samples simulated to estimate firing rates
RATE_FLOOR = 1e-4       # events per step credited to silent sources


@dataclass
class Mapping:
    """Everything one compilation decided: the configuration and how each float quantity was realised."""

    config: ChipConfig
    encoder: Encoder
    chip_id: np.ndarray   # [N] chip neuron of each network neuron
    norm: Normalised
    biases: CoreBiases
    synapses: Synapses    # with their counts
    wsyn: np.ndarray      # [cores, 4] realised wsyn


def map_network(net: SpikingNetwork, spec: str | ChipSpec, inputs: np.ndarray | None = None,
                weight_bits: int | None = None) -> Mapping:
    """The mapping of `net` onto `spec` (see `compile_network`)."""
    spec = load_spec(spec)
    check_size(net.n_neurons, spec)
    if weight_bits is not None and weight_bits < 2:
        raise CompileError(f"weight_bits must be >= 2 (sign + magnitude), got {weight_bits}")
    if inputs is not None and (np.ndim(inputs) != 3 or np.shape(inputs)[-1] != net.n_in):
        raise CompileError(f"network has {net.n_in} inputs but the data has shape {np.shape(inputs)}")
    norm = normalise(net)
    chip_id = assign_cores(norm, spec)
    config = ChipConfig.empty(spec)
    config.enabled[:] = False
    config.enabled[chip_id] = True
    biases = choose_biases(config, norm, chip_id, has_fast=np.any(net.w_fast != 0, axis=0))
    use_bias = bool(np.any(np.abs(biases.residual) > BIAS_TOLERANCE * biases.kappa[spec.core_of(chip_id)]))
    if not use_bias:
        biases.residual[:] = 0.0
    encoder = Encoder.fit(net.n_in, spec, inputs, bias=use_bias)
    neuron_rate, channel_rate = _rates(net, encoder, inputs)
    syn = build_synapses(net, norm, chip_id, biases, encoder, spec, neuron_rate, channel_rate)
    cap = None if weight_bits is None else 2 ** (weight_bits - 1) - 1
    syn, wsyn = quantise(syn, config, cap)
    config.validate()
    return Mapping(config, encoder, chip_id, norm, biases, syn, wsyn)


def compile_network(net: SpikingNetwork, spec: str | ChipSpec, inputs: np.ndarray | None = None,
                    weight_bits: int | None = None, replicas: int = 1) -> CompiledNetwork:
    """Map `net` onto `spec`. `inputs` [S, T, n_in] (training data) sets the input scaling
    and, through a float simulation, the firing rates that rank weights for pruning.
    `replicas` R > 1 places R copies of the mapped network on the chip (`replicas`), each
    on its own neurons with its own recurrence, all fed the same input channels; the
    readout spans every copy (each copy's float readout / R until a re-fit)."""
    readout = np.flatnonzero(np.any(net.w_out != 0, axis=1))
    if readout.size == 0:
        raise CompileError("network has no readout weights (w_out is all zero)")
    m = map_network(net, spec, inputs, weight_bits)
    config, copies = replicate(m.config, m.chip_id, replicas)
    decoder = Decoder(copies[:, readout].reshape(-1), np.tile(net.w_out[readout], (replicas, 1)) / replicas,
                      float(net.tau_out))
    report = mapping_report(net, m.config, m.norm, m.chip_id, m.biases, m.synapses, m.wsyn)
    report["replicas"] = replicas
    if weight_bits is not None:
        report["weight_bits"] = weight_bits
    return CompiledNetwork(config, m.encoder, decoder, dict(net.meta), report)


def _rates(net: SpikingNetwork, encoder: Encoder, inputs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Events per step of each network neuron (float simulation) and each input channel."""
    if inputs is None:
        return np.ones(net.n_neurons), np.ones(encoder.n_channels)
    sample = np.asarray(inputs[:RATE_SAMPLES], np.float32)
    counts = simulate(lif_params(net, "numpy"), sample, "numpy").spike_count
    neuron_rate = np.asarray(counts)[0].mean(0) / sample.shape[1]
    channel_rate = encoder.rates(sample).mean(axis=(0, 1))
    return np.maximum(neuron_rate, RATE_FLOOR), np.maximum(channel_rate, RATE_FLOOR)
