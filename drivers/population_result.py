"""What a chip population returns for a run of trials (`drivers.population`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.chip.activity import Activity

STATE = ("v", "isyn", "refr")


@dataclass
class PopulationResult:
    """Spikes of the selected neurons (all of them when none were selected); the state, when
    recorded, always covers every neuron."""

    spikes: np.ndarray              # [B, T, K] bool, the selected neurons
    v: np.ndarray | None = None     # [B, T, N]
    isyn: np.ndarray | None = None  # [B, T, 4, N]
    refr: np.ndarray | None = None  # [B, T, N]
    activity: Activity | None = None  # counters per trial; None where the target does not count

    def subset(self, trials: Any) -> "PopulationResult":
        """The result of the trials `trials` (indices, a slice or a mask over B)."""
        pick = lambda a: None if a is None else a[trials]  # noqa: E731
        return PopulationResult(pick(self.spikes), pick(self.v), pick(self.isyn), pick(self.refr),
                                None if self.activity is None else self.activity.subset(trials))
