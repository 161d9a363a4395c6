"""Redundant replicas: R copies of one compiled network side by side on one chip.

Copy 0 is the ordinary mapping. Copy r sits on the same cores as copy 0, right after the
copies before it: a neuron that copy 0 places at slot i of core c (core c holds n_c of its
neurons, at slots 0..n_c−1) is, in copy r, at slot r·n_c + i of core c. So every copy keeps
the core biases (τ, θ, idc, wsyn) the compiler chose for copy 0, and its CAM is copy 0's with
each neuron source moved to the same copy: the same fan-in, input channels shared, no
synapse between copies. A physical chip's per-neuron mismatch differs from copy to copy,
so a readout over all copies averages R independently mismatched networks.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.compiler.errors import CompileError
from sim.chip.config import ARRAY_FIELDS, ChipConfig


def check_replicas(replicas: int, chip_id: np.ndarray, config: ChipConfig) -> np.ndarray:
    """Neurons of copy 0 on each core [cores]; CompileError when `replicas` copies do not fit."""
    spec = config.spec
    if isinstance(replicas, bool) or not isinstance(replicas, (int, np.integer)) or replicas < 1:
        raise CompileError(f"replicas must be an integer >= 1, got {replicas!r}")
    per_core = np.bincount(spec.core_of(chip_id), minlength=spec.cores)
    if np.any(chip_id % spec.neurons_per_core >= per_core[spec.core_of(chip_id)]):
        raise CompileError("replicas need copy 0 in the first slots of each core (as `cores.assign_cores` places it)")
    busiest = int(per_core.max())
    if replicas * busiest > spec.neurons_per_core:
        raise CompileError(f"{replicas} replicas of the {chip_id.size}-neuron network need {replicas * busiest} "
                           f"neurons on a core ({busiest} per copy); spec {spec.name} has {spec.neurons_per_core} "
                           f"per core, so at most {spec.neurons_per_core // busiest} replicas fit")
    return per_core


def replicate(config: ChipConfig, chip_id: np.ndarray, replicas: int) -> tuple[ChipConfig, np.ndarray]:
    """(a configuration holding `replicas` copies of the network that `config` holds at
    `chip_id`, the chip neuron of each network neuron in each copy [replicas, N]). The
    configuration is a new one; `config` is not changed."""
    spec = config.spec
    per_core = check_replicas(replicas, chip_id, config)
    step = np.zeros(spec.n_neurons, np.int64)  # slots a neuron moves per copy
    step[chip_id] = per_core[spec.core_of(chip_id)]
    out = replace(config, **{name: getattr(config, name).copy() for name in ARRAY_FIELDS})
    copies = np.stack([chip_id + r * step[chip_id] for r in range(replicas)])
    source, kind = config.cam_source[chip_id], config.cam_type[chip_id]
    neuron = source >= spec.inputs
    for r, ids in enumerate(copies[1:], start=1):
        moved = source.copy()  # input channels and empty slots stay
        moved[neuron] += r * step[source[neuron] - spec.inputs]
        out.cam_source[ids] = moved
        out.cam_type[ids] = kind
        out.enabled[ids] = True
    return out, copies
