"""The `Chip` protocol every target implements, and what it returns.

A chip is loaded with a `ChipConfig`, then runs input rasters; every run starts from
the power-on state (v = isyn = refr = 0, no spikes). `reset` returns the chip to
power-on with no configuration loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from sim.chip.activity import Activity
from sim.chip.config import ChipConfig


class ChipError(RuntimeError):
    """A chip target refused or failed an operation."""


class NotLoadedError(ChipError):
    """`run` was called before a configuration was loaded."""


EMULATED_PREFIX = "seed:"  # chip_id of an emulated chip: "seed:<chip_seed>"
PHYSICAL = "physical"      # the mismatch a physical (or anonymous) board reports: it is the chip it is


@dataclass(frozen=True)
class ChipIdentity:
    spec_version: str
    spec_name: str
    chip_id: str            # "seed:<chip_seed>" for emulated chips, the serial number for boards
    firmware: str
    mismatch: str = "spec"  # mismatch level the chip realises ("spec", "0.1", ... or PHYSICAL)
    capabilities: tuple[str, ...] = field(default_factory=tuple)

    @property
    def chip_seed(self) -> int | None:
        """The chip seed of an emulated chip (in process or behind a virtual board); None for a
        physical chip, which is the chip it is."""
        if not self.chip_id.startswith(EMULATED_PREFIX):
            return None
        return int(self.chip_id[len(EMULATED_PREFIX):])

    @property
    def emulated(self) -> bool:
        return self.chip_seed is not None


@dataclass
class RunResult:
    """Output of one run of T steps on an N-neuron chip."""

    spikes: np.ndarray                 # [T, N] bool
    v: np.ndarray | None = None        # [T, N] int64, state after each step
    isyn: np.ndarray | None = None     # [T, 4, N] int64
    refr: np.ndarray | None = None     # [T, N] int64
    activity: Activity | None = None   # the run's counters (one trial), where the target counts


@runtime_checkable
class Chip(Protocol):
    """What the harness needs from any chip target."""

    def identity(self) -> ChipIdentity: ...

    def load(self, config: ChipConfig) -> None: ...

    def run(self, inputs: np.ndarray, *, noise_amplitude: int = 0, noise_seed: int = 0,
            record_state: bool = False) -> RunResult: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...
