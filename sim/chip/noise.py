"""Counter-based temporal noise (CHIP_SPEC §5), vectorised over chips and neurons.

All arithmetic is modulo 2**64 on uint64 arrays of the chosen backend.
"""
from __future__ import annotations

from typing import Any

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
STEP_STRIDE = 2**20


def splitmix64(z: Any, xp: Any = np) -> Any:
    """splitmix64 of a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):  # wrapping is intended; NumPy warns on 0-d arrays
        z = xp.asarray(z, dtype=xp.uint64) + xp.uint64(GOLDEN)
        z = (z ^ (z >> xp.uint64(30))) * xp.uint64(MIX1)
        z = (z ^ (z >> xp.uint64(27))) * xp.uint64(MIX2)
        return z ^ (z >> xp.uint64(31))


def noise_keys(chip_seeds: Any, noise_seeds: Any) -> np.ndarray:
    """key = splitmix64(chip_seed ^ splitmix64(noise_seed)) per chip (host-side, uint64)."""
    chips = np.asarray(chip_seeds, dtype=np.uint64)
    return splitmix64(chips ^ splitmix64(np.asarray(noise_seeds, dtype=np.uint64)))


def noise_step(keys: Any, t: int, neuron_ids: Any, amplitude: int, xp: Any = np) -> Any:
    """noise(t, n) for every chip (keys [B, 1]) and neuron (neuron_ids [N]) → int64 [B, N]."""
    with np.errstate(over="ignore"):
        counter = keys + xp.uint64((t * STEP_STRIDE) % 2**64) + neuron_ids
    draws = splitmix64(counter, xp) >> xp.uint64(33)
    return (draws % xp.uint64(2 * amplitude + 1)).astype(xp.int64) - amplitude
