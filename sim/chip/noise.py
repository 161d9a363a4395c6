"""Counter-based temporal noise (CHIP_SPEC §5), vectorised over chips and neurons, and
the checks of its parameters shared by every chip target.

All arithmetic is modulo 2**64 on uint64 arrays of the chosen backend.
"""
from __future__ import annotations

from typing import Any

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
STEP_STRIDE = 2**20
# The draw has 31 bits, so from A = 2**30 on the noise is one-sided (docs/chip-spec.md, reading 14).
MAX_NOISE_AMPLITUDE = 2**31 - 1


class NoiseError(ValueError):
    """A noise amplitude or noise seed is not valid."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_noise_amplitude(amplitude: Any) -> int:
    """The noise amplitude A as an int; NoiseError unless an integer in 0..MAX_NOISE_AMPLITUDE."""
    if not _is_integer(amplitude) or not 0 <= int(amplitude) <= MAX_NOISE_AMPLITUDE:
        raise NoiseError(f"noise amplitude {amplitude!r} must be an integer in 0..{MAX_NOISE_AMPLITUDE}")
    return int(amplitude)


def check_noise_seed(seed: Any) -> int:
    """A noise seed as an int; NoiseError unless an integer in 0..2**64-1."""
    if not _is_integer(seed) or not 0 <= int(seed) < 2**64:
        raise NoiseError(f"noise seed {seed!r} must be an integer in 0..2**64-1")
    return int(seed)


def check_noise(amplitude: Any, seed: Any) -> tuple[int, int]:
    """(amplitude, seed) of one chip's run, checked."""
    return check_noise_amplitude(amplitude), check_noise_seed(seed)


def check_noise_seeds(seeds: Any, n_chips: int) -> np.ndarray:
    """uint64 [n_chips] from one noise seed for every chip or one per chip, each checked."""
    if np.ndim(seeds) == 0:
        return np.full(n_chips, check_noise_seed(seeds), np.uint64)
    if len(seeds) != n_chips:
        raise NoiseError(f"noise_seeds holds {len(seeds)} seeds for {n_chips} chips: "
                         f"give one seed, or exactly {n_chips}")
    return np.array([check_noise_seed(seed) for seed in seeds], np.uint64)


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
