"""A chip population on the batched simulator (`drivers.population`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from drivers.population_result import STATE, PopulationResult
from drivers.population_trials import check_trials, trial_amplitudes
from sim.chip.activity import Activity
from sim.chip.batched import KERNELS, PROPAGATIONS, BatchedChips
from sim.chip.config import ChipConfig
from sim.chip.mismatch import MismatchLevel

MAX_BATCH = 256  # trials the simulator runs at once


class SimulatedPopulation:
    """Virtual chips at `mismatch` on the batched simulator, on the kernel path `backend`,
    `kernel`, `propagation` (see `BatchedChips`) with at most `threads` CPU threads (None: every
    core). Trials of one noise amplitude run together, at most `max_batch` at once; inputs
    broadcast over the trials (`np.broadcast_to`, stride 0) run as one raster shared by the
    chips of a batch."""

    def __init__(self, mismatch: MismatchLevel = "spec", backend: str = "auto", max_batch: int = MAX_BATCH, *,
                 kernel: str = "fused", propagation: str = "auto", threads: int | None = None):
        if kernel not in KERNELS or propagation not in PROPAGATIONS:
            raise ValueError(f"kernel {kernel!r}, propagation {propagation!r}: kernels are {', '.join(KERNELS)}, "
                             f"propagations {', '.join(PROPAGATIONS)}")
        self.mismatch, self.backend, self.max_batch = mismatch, backend, max_batch
        self.kernel, self.propagation, self.threads = kernel, propagation, threads

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int | Sequence[int] = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult:
        inputs = np.asarray(inputs)
        trials = check_trials(inputs, chip_seeds, noise_seeds)
        seeds, noise = np.array([int(s) for s in chip_seeds], object), np.asarray(noise_seeds, np.uint64)
        amplitudes = trial_amplitudes(noise_amplitude, trials)
        shared = trials > 1 and inputs.strides[0] == 0
        batches = []
        for amplitude in dict.fromkeys(amplitudes):
            group = np.flatnonzero([a == amplitude for a in amplitudes])
            for lo in range(0, group.size, self.max_batch):
                chunk = group[lo:lo + self.max_batch]
                if chunk[-1] - chunk[0] == chunk.size - 1:
                    chunk = slice(int(chunk[0]), int(chunk[-1]) + 1)  # consecutive trials: views, not copies
                chips = BatchedChips(config, list(seeds[chunk]), self.mismatch, self.backend, self.propagation,
                                     self.threads, self.kernel)
                batches.append((chunk, chips.run(inputs[0] if shared else inputs[chunk], noise_amplitude=amplitude,
                                                 noise_seeds=noise[chunk], neurons=neurons,
                                                 record_state=record_state)))
        if len(batches) == 1:
            part = batches[0][1]
            return PopulationResult(part.spikes, part.v, part.isyn, part.refr, part.activity)

        def join(name: str) -> np.ndarray | None:
            first = getattr(batches[0][1], name)
            if first is None:
                return None
            whole = np.empty((trials, *first.shape[1:]), first.dtype)
            for chunk, part in batches:
                whole[chunk] = getattr(part, name)
            return whole

        activity = Activity.join([(chunk, part.activity) for chunk, part in batches], trials)
        return PopulationResult(join("spikes"), *(join(name) for name in STATE), activity)

    def close(self) -> None:
        """Nothing to release."""
