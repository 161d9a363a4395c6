"""Chip populations: many chips, one configuration — how the harness runs every target.

`ChipPopulation` is the protocol: `run(config, inputs [B, T, M], chip_seeds [B],
noise_seeds [B], ...)` returns the spikes [B, T, K] (and the state, when asked) of trial b
run from power-on on chip `chip_seeds[b]`. Adapters:

* `SimulatedPopulation`: the batched simulator (fused Numba kernel on the CPU, CuPy on a
  GPU), trials in batches of at most `max_batch`;
* `ChipByChip`: any single `Chip` (the emulator, a serial board), one trial at a time;
  `for_emulator` opens emulated chip #seed, `for_board` runs a board, which is the one
  chip it is, and `for_chip` runs whatever one chip it is given.

The same trials on two populations give the same bits (CHIP_SPEC §6), which is how the
suites cross-check a driver path against the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from drivers.chip import Chip, ChipError
from drivers.emulator import EmulatorChip
from sim.chip.batched import BatchedChips
from sim.chip.config import ChipConfig
from sim.chip.mismatch import MismatchLevel

MAX_BATCH = 256  # trials the simulator runs at once


@dataclass
class PopulationResult:
    spikes: np.ndarray              # [B, T, K] bool, the selected neurons
    v: np.ndarray | None = None     # [B, T, N]
    isyn: np.ndarray | None = None  # [B, T, 4, N]
    refr: np.ndarray | None = None  # [B, T, N]


class ChipPopulation(Protocol):
    """What the harness needs from a set of chips (see the module docstring)."""

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult: ...

    def close(self) -> None: ...


class SimulatedPopulation:
    """Virtual chips at `mismatch` on the batched simulator."""

    def __init__(self, mismatch: MismatchLevel = "spec", backend: str = "auto", max_batch: int = MAX_BATCH):
        self.mismatch, self.backend, self.max_batch = mismatch, backend, max_batch

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult:
        seeds, noise = [int(s) for s in chip_seeds], np.asarray(noise_seeds, np.uint64)
        parts = [BatchedChips(config, seeds[lo:lo + self.max_batch], self.mismatch, self.backend).run(
            inputs[lo:lo + self.max_batch], noise_amplitude=noise_amplitude, noise_seeds=noise[lo:lo + self.max_batch],
            neurons=neurons, record_state=record_state) for lo in range(0, len(seeds), self.max_batch)]
        join = (lambda name: None if getattr(parts[0], name) is None
                else np.concatenate([getattr(p, name) for p in parts]))
        return PopulationResult(join("spikes"), join("v"), join("isyn"), join("refr"))

    def close(self) -> None:
        """Nothing to release."""


class ChipByChip:
    """Single `Chip` targets run one trial at a time: `chip_for(seed)` gives the chip that
    realises chip seed `seed` (opened once per seed; closed by `close` when `owns_chips`)."""

    def __init__(self, chip_for: Callable[[int], Chip], owns_chips: bool = True):
        self._chip_for, self._owns_chips = chip_for, owns_chips
        self._chips: dict[int, Chip] = {}
        self._loaded: dict[int, int] = {}  # seed -> id of the configuration on that chip

    @classmethod
    def for_emulator(cls, spec: str, mismatch: MismatchLevel) -> "ChipByChip":
        return cls(lambda seed: EmulatorChip(spec, seed, mismatch))

    @classmethod
    def for_chip(cls, chip: Chip) -> "ChipByChip":
        """One chip target, whatever the seeds say (they only label its trials); the caller
        keeps it open."""
        return cls(lambda _seed: chip, owns_chips=False)

    @classmethod
    def for_board(cls, board: Chip, chip_seed: int) -> "ChipByChip":
        """A board, which is chip `chip_seed` (from its identity) and no other."""
        def chip_for(seed: int) -> Chip:
            if seed != chip_seed:
                raise ChipError(f"the board {board.identity().chip_id} is chip seed {chip_seed}, not {seed}")
            return board
        return cls(chip_for, owns_chips=False)

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult:
        selected = slice(None) if neurons is None else np.asarray(neurons, np.int64)
        results = []
        for raster, seed, noise_seed in zip(inputs, chip_seeds, noise_seeds):
            chip = self._chip(int(seed), config)
            results.append(chip.run(raster, noise_amplitude=noise_amplitude, noise_seed=int(noise_seed),
                                    record_state=record_state))
        stack = (lambda name: None if not record_state else np.stack([getattr(r, name) for r in results]))
        return PopulationResult(np.stack([r.spikes[:, selected] for r in results]), stack("v"), stack("isyn"),
                                stack("refr"))

    def _chip(self, seed: int, config: ChipConfig) -> Chip:
        if seed not in self._chips:
            self._chips[seed] = self._chip_for(seed)
        if self._loaded.get(seed) != id(config):
            self._chips[seed].load(config)
            self._loaded[seed] = id(config)
        return self._chips[seed]

    def close(self) -> None:
        if self._owns_chips:
            for chip in self._chips.values():
                chip.close()
        self._chips.clear()
        self._loaded.clear()
