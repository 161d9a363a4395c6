"""A chip population of single `Chip` targets, one trial at a time (`drivers.population`)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from drivers.chip import Chip, ChipError
from drivers.emulator import EmulatorChip
from drivers.population_result import STATE, PopulationResult
from drivers.population_trials import check_trials, trial_amplitudes
from sim.chip.activity import Activity
from sim.chip.config import ChipConfig
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import ChipSpec


class ChipByChip:
    """Single `Chip` targets run one trial at a time: `chip_for(seed)` gives the chip that
    realises chip seed `seed` (opened once per seed; closed by `close` when `owns_chips`)."""

    def __init__(self, chip_for: Callable[[int], Chip], owns_chips: bool = True):
        self._chip_for, self._owns_chips = chip_for, owns_chips
        self._chips: dict[int, Chip] = {}
        self._loaded: dict[int, ChipConfig] = {}  # seed -> the configuration on that chip

    @classmethod
    def for_emulator(cls, spec: str | ChipSpec, mismatch: MismatchLevel) -> "ChipByChip":
        """Emulated chip #seed of `spec` at `mismatch` for every chip seed (closed by `close`)."""
        return cls(lambda seed: EmulatorChip(spec, seed, mismatch))

    @classmethod
    def for_chip(cls, chip: Chip) -> "ChipByChip":
        """One chip target, whatever the seeds say (they only label its trials); the caller
        keeps it open."""
        return cls(lambda _seed: chip, owns_chips=False)

    @classmethod
    def for_board(cls, board: Chip, chip_seed: int) -> "ChipByChip":
        """A board, which is chip `chip_seed` (from its identity) and no other; the caller keeps
        it open."""
        def chip_for(seed: int) -> Chip:
            if seed != chip_seed:
                raise ChipError(f"the board {board.identity().chip_id} is chip seed {chip_seed}, not {seed}")
            return board
        return cls(chip_for, owns_chips=False)

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int | Sequence[int] = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult:
        """Each trial on its chip (loading `config` there first, once), with its own noise
        amplitude, in order."""
        amplitudes = trial_amplitudes(noise_amplitude, check_trials(inputs, chip_seeds, noise_seeds))
        selected = slice(None) if neurons is None else np.asarray(neurons, np.int64)
        results = []
        for raster, seed, noise_seed, amplitude in zip(inputs, chip_seeds, noise_seeds, amplitudes):
            chip = self._chip(int(seed), config)
            results.append(chip.run(raster, noise_amplitude=amplitude, noise_seed=int(noise_seed),
                                    record_state=record_state))
        stack = (lambda name: None if not record_state else np.stack([getattr(r, name) for r in results]))
        counted = all(r.activity is not None for r in results)
        return PopulationResult(np.stack([r.spikes[:, selected] for r in results]), *(stack(name) for name in STATE),
                                Activity.stack([r.activity for r in results]) if counted else None)

    def _chip(self, seed: int, config: ChipConfig) -> Chip:
        if seed not in self._chips:
            self._chips[seed] = self._chip_for(seed)
        if self._loaded.get(seed) is not config:  # the object itself: an id could be reused
            self._chips[seed].load(config)
            self._loaded[seed] = config
        return self._chips[seed]

    def close(self) -> None:
        if self._owns_chips:
            for chip in self._chips.values():
                chip.close()
        self._chips.clear()
        self._loaded.clear()
