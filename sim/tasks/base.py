"""Data sets and tasks shared by every training method.

A `Dataset` holds inputs [samples, T, channels], target trajectories [samples, T, n_out],
a loss/decision mask [samples, T] and integer class labels [samples]. A `Task` bundles
train/validation/test splits with the rule that turns an output trajectory into a class.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class TaskError(ValueError):
    """A task cannot be built or loaded: unknown name, unsupported or invalid size, bad data file."""


@dataclass
class Dataset:
    inputs: np.ndarray   # [S, T, n_in] float32
    targets: np.ndarray  # [S, T, n_out] float32
    mask: np.ndarray     # [S, T] bool: steps where the output is trained and judged
    labels: np.ndarray   # [S] int64 class labels
    strata: np.ndarray | None = None  # [S] sub-class ids (XOR: the sign combination); None: the labels

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def subset(self, index: Any) -> "Dataset":
        return Dataset(self.inputs[index], self.targets[index], self.mask[index], self.labels[index],
                       None if self.strata is None else self.strata[index])

    def balanced(self, samples: int, n_classes: int) -> "Dataset":
        """`samples` samples with the same number from every class, so a constant answer scores
        exactly chance; within a class its strata take turns (XOR: every sign combination).
        Classes alternate, so any prefix of a multiple of `n_classes` is balanced too.
        TaskError when `samples` is not a multiple of `n_classes` or a class has too few."""
        if samples < n_classes or samples % n_classes:
            raise TaskError(f"{samples} samples cannot be split equally over {n_classes} classes "
                            f"(use a multiple of {n_classes})")
        per_class = samples // n_classes
        sequences = [self._round_robin(np.flatnonzero(self.labels == c)) for c in range(n_classes)]
        short = [(c, len(seq)) for c, seq in enumerate(sequences) if len(seq) < per_class]
        if short:
            c, have = short[0]
            raise TaskError(f"{samples} class-balanced samples need {per_class} of class {c}, but the split has "
                            f"{have}; use fewer samples or a larger split")
        return self.subset(np.stack([seq[:per_class] for seq in sequences], axis=1).reshape(-1))

    def _round_robin(self, members: np.ndarray) -> np.ndarray:
        """`members` reordered so that their strata take turns (first of each stratum, then second...)."""
        if self.strata is None:
            return members
        groups = [members[self.strata[members] == s] for s in np.unique(self.strata[members])]
        rank = np.concatenate([np.arange(g.size) for g in groups])
        turn = np.concatenate(groups)
        return turn[np.argsort(rank, kind="stable")]


@dataclass
class Task:
    """A named task with splits; `decide` maps outputs to predicted labels."""

    name: str
    train: Dataset
    val: Dataset
    test: Dataset
    n_classes: int = 2
    meta: dict[str, Any] | None = None  # the constructor's arguments: load_task(name, **meta) rebuilds it

    @property
    def n_in(self) -> int:
        return int(self.train.inputs.shape[2])

    @property
    def n_out(self) -> int:
        return int(self.train.targets.shape[2])

    @property
    def n_steps(self) -> int:
        return int(self.train.inputs.shape[1])

    def decide(self, outputs: np.ndarray, data: Dataset) -> np.ndarray:
        """Predicted labels from outputs [..., S, T, n_out] (leading axes allowed).

        Binary tasks with one output: class 1 when the mean output over the masked
        window exceeds the midpoint of the two class targets; several outputs: argmax
        of the masked mean.
        """
        outputs = np.asarray(outputs)
        mask = data.mask.astype(outputs.dtype)
        mean = np.einsum("...stk,st->...sk", outputs, mask) / np.maximum(mask.sum(1), 1)[:, None]
        if outputs.shape[-1] == 1:
            return (mean[..., 0] > self.threshold(data)).astype(np.int64)
        return np.argmax(mean, axis=-1)

    def threshold(self, data: Dataset) -> float:
        """Midpoint between the masked mean targets of class 0 and class 1."""
        mask = data.mask
        per_sample = (data.targets[..., 0] * mask).sum(1) / np.maximum(mask.sum(1), 1)
        levels = [per_sample[data.labels == c].mean() if np.any(data.labels == c) else float(c)
                  for c in (0, 1)]
        return float(0.5 * (levels[0] + levels[1]))

    @property
    def chance(self) -> float:
        """Accuracy of a constant answer on class-balanced samples."""
        return 1.0 / self.n_classes

    def accuracy(self, outputs: np.ndarray, data: Dataset) -> np.ndarray:
        """Fraction correct over samples; leading axes of `outputs` are kept."""
        return (self.decide(outputs, data) == data.labels).mean(axis=-1)
