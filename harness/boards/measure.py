"""One condition on one board, through its driver: both deployments, sample for sample.

The compiled network is loaded once; the board runs the run's calibration trials (class
balanced, calibration split, noise seeds disjoint from the test samples') and its readout
is fitted on them, then it runs the class-balanced test samples (sample s with noise seed
s), read out with the compiled and with the board's own readout — exactly what the
virtual chips do in `harness.deploy.evaluate_deployments`, with the same decision rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from drivers.chip import Chip
from drivers.population import ChipByChip
from harness.calibration import calibration_data, fit_readouts, noise_seeds
from harness.compiler import CompiledNetwork
from harness.deploy import population_spikes, split_data
from sim.tasks.base import Task


@dataclass(frozen=True)
class BoardRun:
    """Per test sample, whether the board's decision was right, per calibration budget (0:
    the compiled readout)."""

    correct: dict[int, np.ndarray]   # budget -> [samples] bool

    def accuracy(self, budget: int) -> float:
        return float(np.mean(self.correct[budget]))


class _Counted:
    """A chip that calls `on_run` after every run (progress)."""

    def __init__(self, chip: Chip, on_run: Callable[[], None]):
        self.chip, self.on_run = chip, on_run

    def identity(self) -> Any:
        return self.chip.identity()

    def load(self, config: Any) -> None:
        self.chip.load(config)

    def run(self, inputs: np.ndarray, **options: Any) -> Any:
        result = self.chip.run(inputs, **options)
        self.on_run()
        return result

    def reset(self) -> None:
        self.chip.reset()

    def close(self) -> None:
        self.chip.close()


def measure_on_board(compiled: CompiledNetwork, chip: Chip, task: Task, *, samples: int, trials: int,
                     calibration_split: str = "train", noise_amplitude: int = 0,
                     on_run: Callable[[], None] | None = None) -> BoardRun:
    """Run `compiled` on `chip`: its calibration (when `trials` > 0) and its test samples;
    `on_run` is called after each trial."""
    population = ChipByChip.for_chip(chip if on_run is None else _Counted(chip, on_run))
    readouts = {0: compiled.decoder}
    if trials:
        calibration = calibration_data(task, trials, calibration_split)
        spikes = population_spikes(compiled, compiled.encoder.encode(calibration.inputs), [0], noise_seeds(trials),
                                   population, noise_amplitude)
        readouts[trials] = fit_readouts(compiled.decoder, spikes, calibration, task.n_classes)[0][0]
    data = split_data(task, "test", samples)
    spikes = population_spikes(compiled, compiled.encoder.encode(data.inputs), [0],
                               np.arange(len(data), dtype=np.uint64), population, noise_amplitude)[0]
    spikes = spikes.astype(np.float64)
    return BoardRun({k: task.decide(readout.decode(spikes), data) == data.labels for k, readout in readouts.items()})
