"""Emulated manufacturing defects of a virtual board, for demos and tests.

`dead:F` — a fraction F of the chip's neurons never fire; `stuck:F` — a fraction F fire
on every step. Which neurons are defective follows from the chip seed alone (never from
the identity, which does not show the defect), so a board restarted with the same seed
has the same defects.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from drivers.emulator import EmulatorChip
from sim.chip.config import ChipConfig
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import V_RANGE, ChipSpec

KINDS = ("dead", "stuck")
_STREAM = 0xDEFEC7  # keeps the defect draw apart from every other use of the chip seed


class DefectError(ValueError):
    """A defect description that is not KIND:FRACTION."""


@dataclass(frozen=True)
class Defect:
    kind: str        # "dead" or "stuck"
    fraction: float  # of the chip's neurons, in [0, 1]

    def neurons(self, chip_seed: int, n_neurons: int) -> np.ndarray:
        """The defective neurons of chip `chip_seed` (sorted indices)."""
        rng = np.random.default_rng([int(chip_seed), _STREAM])
        count = int(round(self.fraction * n_neurons))
        return np.sort(rng.choice(n_neurons, count, replace=False))

    def __str__(self) -> str:
        return f"{self.kind}:{self.fraction:g}"


def parse_defect(text: str) -> Defect:
    """`dead:F` or `stuck:F` with F a fraction in [0, 1]; DefectError otherwise."""
    kind, sep, value = text.partition(":")
    if kind not in KINDS or not sep:
        raise DefectError(f"defect {text!r}: expected dead:F or stuck:F (F a fraction of the neurons in [0, 1])")
    try:
        fraction = float(value)
    except ValueError:
        raise DefectError(f"defect {text!r}: the fraction {value!r} is not a number in [0, 1]") from None
    if not 0.0 <= fraction <= 1.0:
        raise DefectError(f"defect {text!r}: the fraction {fraction:g} is not in [0, 1]")
    return Defect(kind, fraction)


class DefectiveChip(EmulatorChip):
    """An emulated chip with `defect`: dead neurons are disabled whatever the configuration
    says; stuck neurons fire on every step (their threshold is the bottom of the membrane
    range, so even a neuron held in its refractory period crosses it)."""

    def __init__(self, spec: str | ChipSpec, chip_seed: int, mismatch: MismatchLevel, defect: Defect):
        super().__init__(spec, chip_seed, mismatch)
        self.defect = defect
        self._defective = defect.neurons(chip_seed, self.spec.n_neurons)

    def load(self, config: ChipConfig) -> None:
        super().load(config)
        if self.defect.kind == "dead":
            enabled = self._params.enabled.copy()
            enabled[self._defective] = False
            self._params = replace(self._params, enabled=enabled)
        else:
            theta = self._params.theta.copy()
            theta[self._defective] = V_RANGE[0]
            self._params = replace(self._params, theta=theta)
