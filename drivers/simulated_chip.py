"""One chip on the batched simulator: the emulator's identity and checks, the fast kernel's runs.

The batched simulator and the emulator agree bit for bit (CHIP_SPEC §6), so a virtual
board may compute with either; this one runs each trial through the fused Numba kernel on
`threads` CPU threads (one by default, so that the boards of a farm, one process each,
do not compete for every core) — far faster than the emulator's step loop.
"""
from __future__ import annotations

import numpy as np

from drivers.chip import NotLoadedError, RunResult
from drivers.emulator import EmulatorChip
from drivers.population import SimulatedPopulation
from sim.chip.inputs import check_inputs
from sim.chip.mismatch import MismatchLevel
from sim.chip.noise import check_noise
from sim.chip.spec import DEFAULT_SPEC, ChipSpec


class SimulatedChip(EmulatorChip):
    """Chip #`chip_seed` of `spec` at `mismatch`, computed by the batched simulator."""

    def __init__(self, spec: str | ChipSpec = DEFAULT_SPEC, chip_seed: int = 0, mismatch: MismatchLevel = "spec",
                 threads: int = 1):
        super().__init__(spec, chip_seed, mismatch)
        self._population = SimulatedPopulation(mismatch, "numpy", threads=threads)

    def run(self, inputs: np.ndarray, *, noise_amplitude: int = 0, noise_seed: int = 0,
            record_state: bool = False) -> RunResult:
        if self._config is None:
            raise NotLoadedError("no configuration loaded: call load() before run()")
        x = check_inputs(inputs, self.spec)
        amplitude, noise_seed = check_noise(noise_amplitude, noise_seed)
        result = self._population.run(self._config, x[None], [self.chip_seed], [noise_seed],
                                      noise_amplitude=amplitude, record_state=record_state)
        first = (lambda a: None if a is None else a[0])
        return RunResult(result.spikes[0], first(result.v), first(result.isyn), first(result.refr),
                         None if result.activity is None else result.activity.subset(slice(0, 1)))
