"""Energy per inference measured with a source-measure unit (NeuroBench's system track).

Per repetition, two triggered windows on the chip's supply: idle (the chip configured and
ready, not running) and active (around one inference). Power = V × mean current; dynamic =
active − idle; energy per inference = power × the inference's duration (steps × dt on a
real-time chip). Means over repetitions with their standard errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Protocol

import numpy as np

from drivers.instruments.smu import SourceMeter
from sim.stats import mean_and_stderr


class Load(Protocol):
    """What the simulated lab needs to set the current the SMU will read (simlab.SimulatedLoad);
    None in a real lab, where the chip draws it."""

    def idle(self) -> None: ...

    def active(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class EnergyMeasurement:
    """Idle and active mean currents (A) per repetition at supply `volts`, and the inference's duration."""

    volts: float
    seconds: float
    idle_a: tuple[float, ...]
    active_a: tuple[float, ...]

    def summary(self) -> dict[str, dict[str, float]]:
        """idle/active/dynamic power (W) and total/dynamic energy per inference (J): mean, stderr."""
        idle = np.array(self.idle_a) * self.volts
        active = np.array(self.active_a) * self.volts
        dynamic = active - idle
        stat = partial(mean_and_stderr, one_value_stderr=float("nan"))
        return {"idle_power_w": stat(idle), "active_power_w": stat(active), "dynamic_power_w": stat(dynamic),
                "energy_per_inference_j": stat(active * self.seconds),
                "dynamic_energy_per_inference_j": stat(dynamic * self.seconds)}


def measure_energy(smu: SourceMeter, run_inference: Callable[[], float], *, samples: int, repetitions: int,
                   load: Load | None = None) -> EnergyMeasurement:
    """Idle and active windows of `samples` readings, `repetitions` times; `run_inference`
    runs one inference on the chip and returns its duration in seconds."""
    if repetitions < 2:
        raise ValueError(f"repetitions {repetitions}: a standard error needs at least 2")
    volts = smu.voltage().value
    idle, active, seconds = [], [], float("nan")
    for _ in range(repetitions):
        smu.arm(samples)
        if load is not None:
            load.idle()
        idle.append(smu.fetch().mean_a)
        smu.arm(samples)
        seconds = run_inference()
        if load is not None:
            load.active(seconds)
        active.append(smu.fetch().mean_a)
    return EnergyMeasurement(volts, seconds, tuple(idle), tuple(active))
