"""A user's own data set: an `.npz` with `inputs` [samples, T, channels] and `labels` [samples].

Optional `n_classes` (one integer, 2..MAX_CLASSES) fixes the number of classes;
otherwise it is max(label) + 1 (at least 2). Optional `final_fraction` (one number in (0, 1])
sets the decision window (default 0.25; 1.0 for a network that decides on the whole trial,
such as a spike-count readout). Inputs need at least one time step and one
channel, and finite values of magnitude at most MAX_ABS_INPUT (scale them to about ±1).
Splits are 70/15/15 % of a permutation drawn from the seed.
Targets: binary → one output, +1 for class 1 and −1 for class 0; more classes → one-hot
outputs. The mask (and so the training loss and the decision) covers the final
`final_fraction` of each trial (1.0 = the whole trial).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.atomic import read_npz
from sim.tasks.base import Dataset, Task, TaskError

MIN_SAMPLES = 6
MAX_CLASSES = 256
MAX_ABS_INPUT = 1e6  # larger inputs overflow training
SPLITS = (0.7, 0.15, 0.15)


class UserDataError(TaskError):
    """A user data file is missing, unreadable or malformed; the message names the file and field."""


def _read(path: Path) -> dict[str, np.ndarray]:
    return read_npz(path, UserDataError, "data", "not a readable .npz")


def _validate(path: Path, raw: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    for key in ("inputs", "labels"):
        if key not in raw:
            raise UserDataError(f"{path}: missing array '{key}' (found: {', '.join(sorted(raw)) or 'none'})")
    inputs, labels = raw["inputs"], raw["labels"]
    if inputs.ndim != 3:
        raise UserDataError(f"{path}: 'inputs' must be 3-D [samples, T, channels], got shape {inputs.shape}")
    if labels.ndim != 1:
        raise UserDataError(f"{path}: 'labels' must be 1-D [samples], got shape {labels.shape}")
    if labels.shape[0] != inputs.shape[0]:
        raise UserDataError(f"{path}: 'labels' has {labels.shape[0]} entries but 'inputs' has {inputs.shape[0]} samples")
    if not np.issubdtype(inputs.dtype, np.number) or np.issubdtype(inputs.dtype, np.complexfloating):
        raise UserDataError(f"{path}: 'inputs' must be real numbers, got dtype {inputs.dtype}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise UserDataError(f"{path}: 'labels' must be integers, got dtype {labels.dtype}")
    if inputs.shape[0] < MIN_SAMPLES:
        raise UserDataError(f"{path}: too few samples ({inputs.shape[0]}; need at least {MIN_SAMPLES})")
    if inputs.shape[1] < 1 or inputs.shape[2] < 1:
        raise UserDataError(f"{path}: 'inputs' has shape {inputs.shape}; need at least 1 time step and 1 channel")
    if not np.all(np.isfinite(inputs)):
        raise UserDataError(f"{path}: 'inputs' contains NaN or infinite values")
    peak = float(np.abs(inputs).max())
    if peak > MAX_ABS_INPUT:
        raise UserDataError(f"{path}: 'inputs' reach magnitude {peak:.3g}; the limit is {MAX_ABS_INPUT:g} "
                            "(scale them to about ±1)")
    n_classes = _n_classes(path, raw, labels)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise UserDataError(f"{path}: 'labels' must lie in [0, {n_classes}), got range "
                            f"[{labels.min()}, {labels.max()}]")
    return inputs.astype(np.float32), labels.astype(np.int64), n_classes


def _n_classes(path: Path, raw: dict[str, np.ndarray], labels: np.ndarray) -> int:
    """`n_classes` (one integer in 2..MAX_CLASSES) if given, else max(label) + 1 (at least 2)."""
    if "n_classes" not in raw:
        if labels.max() >= MAX_CLASSES:
            raise UserDataError(f"{path}: 'labels' go up to {labels.max()}; at most {MAX_CLASSES} classes are supported")
        return max(int(labels.max()) + 1, 2)
    value = raw["n_classes"]
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        raise UserDataError(f"{path}: 'n_classes' must be one integer, got {value.dtype} of shape {value.shape}")
    n_classes = int(value.reshape(-1)[0])
    if not 2 <= n_classes <= MAX_CLASSES:
        raise UserDataError(f"{path}: 'n_classes' must be in 2..{MAX_CLASSES}, got {n_classes}")
    return n_classes


def _final_fraction(path: Path, raw: dict[str, np.ndarray]) -> float:
    """The file's `final_fraction` (one real number), or the default 0.25."""
    if "final_fraction" not in raw:
        return 0.25
    value = raw["final_fraction"]
    if value.size != 1 or not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
        raise UserDataError(f"{path}: 'final_fraction' must be one number, got {value.dtype} of shape {value.shape}")
    return float(value.reshape(-1)[0])


def _dataset(inputs: np.ndarray, labels: np.ndarray, n_classes: int, final_fraction: float) -> Dataset:
    n_samples, n_steps, _ = inputs.shape
    mask = np.zeros((n_samples, n_steps), bool)
    mask[:, n_steps - max(1, int(round(n_steps * final_fraction))):] = True
    if n_classes == 2:
        levels = np.where(labels == 1, 1.0, -1.0)[:, None]
    else:
        levels = np.eye(n_classes)[labels]
    targets = (mask[..., None] * levels[:, None, :]).astype(np.float32)
    return Dataset(inputs, targets, mask, labels)


def load_userdata(path: str | Path, seed: int = 0, final_fraction: float | None = None) -> Task:
    """Validate `path` and split it deterministically by `seed` into train/val/test; the decision
    window is `final_fraction`, else the file's own `final_fraction`, else 0.25."""
    path = Path(path)
    raw = _read(path)
    if final_fraction is None:
        final_fraction = _final_fraction(path, raw)
    if not 0.0 < final_fraction <= 1.0:
        raise UserDataError(f"{path}: final_fraction must be in (0, 1], got {final_fraction}")
    inputs, labels, n_classes = _validate(path, raw)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_train = int(round(SPLITS[0] * len(labels)))
    n_val = max(1, int(round(SPLITS[1] * len(labels))))
    parts = (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])
    splits = [_dataset(inputs[idx], labels[idx], n_classes, final_fraction) for idx in parts]
    return Task(path.stem, *splits, n_classes=n_classes,
                meta={"source": str(path.resolve()), "seed": seed, "final_fraction": final_fraction})
