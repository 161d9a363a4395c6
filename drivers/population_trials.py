"""The trials a chip population is asked to run: their count and each one's noise amplitude."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def trial_amplitudes(noise_amplitude: int | Sequence[int], trials: int) -> list[Any]:
    """The noise amplitude of each of `trials` trials, from one for all of them or one per trial
    (the values are checked where they are used, as `Chip.run` and `BatchedChips` check them)."""
    if np.ndim(noise_amplitude) == 0:
        return [noise_amplitude] * trials
    amplitudes = list(noise_amplitude)  # type: ignore[arg-type]
    if len(amplitudes) != trials:
        raise ValueError(f"noise_amplitude holds {len(amplitudes)} amplitudes for {trials} trials: "
                         f"give one, or exactly {trials}")
    return amplitudes


def check_trials(inputs: np.ndarray, chip_seeds: Sequence[int], noise_seeds: Sequence[int]) -> int:
    """B, the number of trials, when the inputs and both seed lists agree on it."""
    if np.ndim(inputs) != 3:
        raise ValueError(f"inputs have shape {np.shape(inputs)}; a population runs [trials, steps, channels]")
    trials = len(inputs)
    if not trials or len(chip_seeds) != trials or len(noise_seeds) != trials:
        raise ValueError(f"{trials} input rasters, {len(chip_seeds)} chip seeds and {len(noise_seeds)} noise seeds: "
                         f"a population runs at least one trial, and each needs one of each")
    return trials
