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
(`sim.chip.activity`) where its target counted them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from drivers.chip import Chip, ChipError
from drivers.emulator import EmulatorChip
from sim.chip.activity import COUNTERS, Activity
from sim.chip.batched import KERNELS, PROPAGATIONS, BatchedChips
from sim.chip.config import ChipConfig
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import ChipSpec

MAX_BATCH = 256  # trials the simulator runs at once
STATE = ("v", "isyn", "refr")


@dataclass
class PopulationResult:
    """Spikes of the selected neurons (all of them when none were selected); the state, when
    recorded, always covers every neuron."""

    spikes: np.ndarray              # [B, T, K] bool, the selected neurons
    v: np.ndarray | None = None     # [B, T, N]
    isyn: np.ndarray | None = None  # [B, T, 4, N]
    refr: np.ndarray | None = None  # [B, T, N]
    activity: Activity | None = None  # counters per trial; None where the target does not count

    def subset(self, trials: Any) -> "PopulationResult":
        """The result of the trials `trials` (indices, a slice or a mask over B)."""
        pick = lambda a: None if a is None else a[trials]  # noqa: E731
        return PopulationResult(pick(self.spikes), pick(self.v), pick(self.isyn), pick(self.refr),
                                None if self.activity is None else self.activity.subset(trials))


class ChipPopulation(Protocol):
    """What the harness needs from a set of chips (see the module docstring)."""

    def run(self, config: ChipConfig, inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int], *,
            noise_amplitude: int | Sequence[int] = 0, neurons: Sequence[int] | None = None,
            record_state: bool = False) -> PopulationResult: ...

    def close(self) -> None: ...


def _trial_amplitudes(noise_amplitude: int | Sequence[int], trials: int) -> list[Any]:
    """The noise amplitude of each of `trials` trials, from one for all of them or one per trial
    (the values are checked where they are used, as `Chip.run` and `BatchedChips` check them)."""
    if np.ndim(noise_amplitude) == 0:
        return [noise_amplitude] * trials
    amplitudes = list(noise_amplitude)  # type: ignore[arg-type]
    if len(amplitudes) != trials:
        raise ValueError(f"noise_amplitude holds {len(amplitudes)} amplitudes for {trials} trials: "
                         f"give one, or exactly {trials}")
    return amplitudes


def _check_trials(inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int]) -> int:
    """B, the number of trials, when the inputs and both seed lists agree on it."""
    if np.ndim(inputs) != 3:
        raise ValueError(f"inputs have shape {np.shape(inputs)}; a population runs [trials, steps, channels]")
    trials = len(inputs)
    if not trials or len(chip_seeds) != trials or len(noise_seeds) != trials:
        raise ValueError(f"{trials} input rasters, {len(chip_seeds)} chip seeds and {len(noise_seeds)} noise seeds: "
                         f"a population runs at least one trial, and each needs one of each")
    return trials


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
        trials = _check_trials(inputs, chip_seeds, noise_seeds)
        seeds, noise = np.array([int(s) for s in chip_seeds], object), np.asarray(noise_seeds, np.uint64)
        amplitudes = _trial_amplitudes(noise_amplitude, trials)
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
        amplitudes = _trial_amplitudes(noise_amplitude, _check_trials(inputs, chip_seeds, noise_seeds))
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


# How two results differ: the axes of each field (a single run, `drivers.chip.RunResult`, has no trial axis).
RESULT_AXES = {"spikes": ("trial", "step", "neuron"), "v": ("trial", "step", "neuron"),
               "isyn": ("trial", "step", "synapse type", "neuron"), "refr": ("trial", "step", "neuron")}


def result_differences(expected: Any, actual: Any, labels: tuple[str, str] = ("expected", "actual")) -> list[str]:
    """Where two results part, one line per field that differs (none when they agree bit for
    bit): for spikes, v, isyn and refr, whether only one side recorded it, unequal shapes, or
    how many entries differ, the first of them, and on which trials. Takes `PopulationResult`s
    or single runs (`RunResult`); `labels` name the two sides. The activity counters are
    compared trial by trial where both sides counted them."""
    first, second = labels
    lines = []
    for name, axes in RESULT_AXES.items():
        a, b = getattr(expected, name), getattr(actual, name)
        if a is None or b is None:
            if a is not None or b is not None:
                lines.append(f"{name}: recorded by {first if b is None else second} only")
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            lines.append(f"{name}: shape {a.shape} ({first}) != {b.shape} ({second})")
            continue
        differ = a != b
        count = int(np.count_nonzero(differ))
        if not count:
            continue
        at = tuple(int(i) for i in np.argwhere(differ)[0])
        position = ", ".join(f"{axis} {i}" for axis, i in zip(axes[len(axes) - a.ndim:], at))
        line = (f"{name}: {count} of {a.size} entries differ, first at {position}: "
                f"{first} {a[at].item()!r}, {second} {b[at].item()!r}")
        if a.ndim == len(axes):
            trials = np.flatnonzero(differ.reshape(len(a), -1).any(axis=1))
            line += f"; on {trials.size} of {len(a)} trials ({', '.join(map(str, trials[:10]))}" \
                    f"{', ...' if trials.size > 10 else ''})"
        lines.append(line)
    return lines + _counter_differences(getattr(expected, "activity", None), getattr(actual, "activity", None),
                                        labels)


def _counter_differences(a: Activity | None, b: Activity | None, labels: tuple[str, str]) -> list[str]:
    """Where two results' activity counters part (compared where both sides counted)."""
    if a is None or b is None:
        return []
    lines = []
    for name in COUNTERS:
        x, y = getattr(a, name), getattr(b, name)
        if x.shape != y.shape:
            lines.append(f"{name}: shape {x.shape} ({labels[0]}) != {y.shape} ({labels[1]})")
            continue
        differ = np.flatnonzero(x != y)
        if differ.size:
            i = int(differ[0])
            lines.append(f"{name}: {differ.size} of {x.size} trials differ, first trial {i}: "
                         f"{labels[0]} {int(x[i])}, {labels[1]} {int(y[i])}")
    return lines
