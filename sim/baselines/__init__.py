"""Baseline training methods at the same neuron budget as network ADS.

Each `train_*` function has the signature
`(task, *, n_neurons=None, epochs=None, seed=0, backend="numpy", progress=None)` and
returns a `SpikingNetwork` that `sim.lif.simulate` evaluates; imported lazily so that
importing the package stays cheap.
"""
from __future__ import annotations

from typing import Any

_TRAINERS = {"train_bptt_lif": "sim.baselines.bptt_lif", "train_force": "sim.baselines.force",
             "train_reservoir": "sim.baselines.reservoir"}

__all__ = sorted(_TRAINERS)


def __getattr__(name: str) -> Any:
    if name in _TRAINERS:
        import importlib  # noqa: PLC0415 - lazy by design
        return getattr(importlib.import_module(_TRAINERS[name]), name)
    raise AttributeError(f"module 'sim.baselines' has no attribute {name!r}")
