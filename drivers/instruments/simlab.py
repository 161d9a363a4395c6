"""The simulated lab's load: what current a simulated SMU (pyvisa-sim) reads in a window.

A virtual board has no analog supply, and pyvisa-sim cannot see it. In CI this load plays
the chip on the supply: before each window is read it sets the simulated SMU's current
(the simulation-only command ":SIM:LOAD:CURR") to the chip's power over the window divided
by the supply voltage — the idle window draws the power model's static power; the active
window draws the virtual board's power monitor reading of the inference it just ran
(energy of every rail / duration) — times (1 + ε), ε ~ N(0, `noise`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from drivers.instruments.smu import SourceMeter
from sim.chip.spec import ChipSpec


class SimulatedLoad:
    """The load a virtual `board` (with `read_power`) puts on the simulated SMU `smu`."""

    def __init__(self, smu: SourceMeter, board: Any, spec: ChipSpec, noise: float = 0.0, seed: int = 0):
        if spec.power is None:
            raise ValueError(f"spec {spec.name} has no power model: the simulated lab cannot draw its current")
        self.smu, self.board, self.spec = smu, board, spec
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def idle(self) -> None:
        self._draw(self.spec.power.static_power_w(self.spec.cores))

    def active(self, seconds: float) -> None:
        reading = self.board.read_power()
        self._draw(sum(reading.rails.values()) / seconds)

    def _draw(self, watts: float) -> None:
        volts = self.smu.voltage().value
        self.smu.command(f":SIM:LOAD:CURR {watts / volts * (1 + self.rng.normal(0.0, self.noise)):e}")
