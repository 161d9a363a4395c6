"""Validation of chip input rasters: integer spike counts 0..15 per channel and step."""
from __future__ import annotations

import numpy as np

from sim.chip.spec import INPUT_COUNT_MAX, ChipSpec


class InputError(ValueError):
    """An input raster has the wrong shape or values."""


def check_inputs(inputs: np.ndarray, spec: ChipSpec, batched: bool = False) -> np.ndarray:
    """Return `inputs` as uint8 counts [T, M] (or [B, T, M] when `batched`), or raise InputError."""
    x = np.asarray(inputs)
    want = "[chips, steps, inputs]" if batched else "[steps, inputs]"
    if x.ndim != (3 if batched else 2) or x.shape[-1] != spec.inputs or x.shape[-2] < 1:
        raise InputError(f"input raster has shape {x.shape}; expected {want} with inputs = {spec.inputs} "
                         f"for spec {spec.name} and at least one step")
    if x.dtype == bool:
        return x.astype(np.uint8)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise InputError(f"input raster has dtype {x.dtype}; expected integer spike counts")
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise InputError("input raster contains NaN or infinite values")
        if np.any(x != np.rint(x)):
            raise InputError("input raster contains non-integer spike counts")
    if x.size and (x.min() < 0 or x.max() > INPUT_COUNT_MAX):
        bad = np.argwhere((x < 0) | (x > INPUT_COUNT_MAX))[0]
        raise InputError(f"input count {x[tuple(bad)]} at index {tuple(int(i) for i in bad)} is outside "
                         f"0..{INPUT_COUNT_MAX}")
    return x.astype(np.uint8)
