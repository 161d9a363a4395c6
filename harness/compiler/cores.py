"""Placement: which chip neuron (and so which core) realises each network neuron.

Each core shares one τ_mem, τ_fast, τ_slow and DC drive among its neurons, so neurons
with similar values should share a core. Neurons are ordered along the first principal
component of their standardised (log τ_mem, log τ_fast, log τ_slow, drive) and cut into
`cores` contiguous, equally sized groups; unused chip neurons stay disabled.
"""
from __future__ import annotations

import numpy as np

from harness.compiler.errors import CompileError
from harness.compiler.neurons import Normalised
from sim.chip.spec import ChipSpec


def check_size(n_neurons: int, spec: ChipSpec) -> None:
    if n_neurons > spec.n_neurons:
        raise CompileError(f"network has {n_neurons} neurons; spec {spec.name} has only {spec.n_neurons} "
                           f"({spec.cores} cores x {spec.neurons_per_core})")


def assign_cores(norm: Normalised, spec: ChipSpec) -> np.ndarray:
    """Chip neuron id of every network neuron [N]."""
    n = norm.drive.size
    check_size(n, spec)
    features = np.stack([np.log(norm.tau_mem), np.log(norm.tau_fast), np.log(norm.tau_slow), norm.drive], axis=1)
    features = features - features.mean(0)
    spread = features.std(0)
    features = features[:, spread > 1e-12] / spread[spread > 1e-12]
    if features.shape[1]:
        axis = np.linalg.svd(features, full_matrices=False)[2][0]
        order = np.argsort(features @ axis, kind="stable")
    else:
        order = np.arange(n)
    bounds = np.linspace(0, n, spec.cores + 1).round().astype(int)
    chip_id = np.empty(n, np.int64)
    for core, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        chip_id[order[lo:hi]] = core * spec.neurons_per_core + np.arange(hi - lo)
    return chip_id
