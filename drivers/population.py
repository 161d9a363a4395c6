"""Chip populations: many chips, one configuration — how the harness runs every target.

`ChipPopulation` is the protocol: `run(config, inputs [B, T, M], chip_seeds [B],
noise_seeds [B], ...)` returns the spikes [B, T, K] (and the state, when asked) of trial b
run from power-on on chip `chip_seeds[b]`, with noise seed `noise_seeds[b]` and noise
amplitude `noise_amplitude` (one for every trial, or one per trial). Adapters:

* `SimulatedPopulation`: the batched simulator (fused Numba kernel on the CPU, CuPy on a
  GPU, or any other kernel path `BatchedChips` has), trials in batches of at most
  `max_batch`;
* `ChipByChip`: any single `Chip` (the emulator, a serial board), one trial at a time;
  `for_emulator` opens emulated chip #seed, `for_board` runs a board, which is the one
  chip it is, and `for_chip` runs whatever one chip it is given.

The same trials on two populations give the same bits (CHIP_SPEC §6), which is how the
suites cross-check a driver path against the simulator; `result_differences` says where
two results part. Each result carries the activity counters of every trial
(`sim.chip.activity`) where its target counted them. The adapters, the result and
`result_differences` live in modules of their own; the harness imports them from here.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from drivers.chip_by_chip import ChipByChip
from drivers.population_result import PopulationResult
from drivers.result_differences import result_differences
from drivers.simulated_population import MAX_BATCH, SimulatedPopulation
from sim.chip.config import ChipConfig

__all__ = ["MAX_BATCH", "ChipByChip", "ChipPopulation", "PopulationResult", "SimulatedPopulation",
           "result_differences"]


class ChipPopulation(Protocol):
    """What the harness needs from a set of chips (see the module docstring)."""

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int | Sequence[int] = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult: ...

    def close(self) -> None: ...
