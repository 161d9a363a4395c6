"""One chip on the batched simulator: the emulator's identity and checks, the fast kernel's runs.

The batched simulator and the emulator agree bit for bit (CHIP_SPEC §6), so a virtual
board may compute with either; this one runs each trial through the fused Numba kernel on
`threads` CPU threads (one by default, so that the boards of a farm, one process each,
do not compete for every core) — far faster than the emulator's step loop. The batched
chip is built once per load, so its kernels are too.
"""
from __future__ import annotations

import numpy as np

from drivers.chip import NotLoadedError, RunResult
from drivers.emulator import EmulatorChip
from sim.chip.batched import BatchedChips
from sim.chip.config import ChipConfig
from sim.chip.inputs import check_inputs
from sim.chip.mismatch import MismatchLevel
from sim.chip.noise import check_noise
from sim.chip.spec import DEFAULT_SPEC, ChipSpec


class SimulatedChip(EmulatorChip):
    """Chip #`chip_seed` of `spec` at `mismatch`, computed by the batched simulator."""

    def __init__(self, spec: str | ChipSpec = DEFAULT_SPEC, chip_seed: int = 0, mismatch: MismatchLevel = "spec",
                 threads: int = 1):
        super().__init__(spec, chip_seed, mismatch)
        self.threads = threads
        self._chips: BatchedChips | None = None

    def load(self, config: ChipConfig) -> None:
        """The emulator's checks, but none of its per-chip tables: the batched chip has its own."""
        self._check_config(config)
        self._chips = BatchedChips(config, [self.chip_seed], self.mismatch, "numpy", threads=self.threads)
        self._config = config

    def run(self, inputs: np.ndarray, *, noise_amplitude: int = 0, noise_seed: int = 0,
            record_state: bool = False) -> RunResult:
        if self._config is None or self._chips is None:
            raise NotLoadedError("no configuration loaded: call load() before run()")
        x = check_inputs(inputs, self.spec)
        amplitude, noise_seed = check_noise(noise_amplitude, noise_seed)
        result = self._chips.run(x, noise_amplitude=amplitude, noise_seeds=[noise_seed], record_state=record_state)
        first = (lambda a: None if a is None else a[0])
        return RunResult(result.spikes[0], first(result.v), first(result.isyn), first(result.refr), result.activity)
