"""Per-chip calibration: fit a chip's readout on a few class-balanced trials, as a lab would.

A chip runs K calibration trials drawn class-balanced from the task's training (or
validation) split — never the test split — and its readout (w_out and an intercept) is
refitted by ridge regression on that chip's filtered output spikes over the task's
decision steps, shrunk either towards zero (a free refit) or towards the compiled readout
(a strong ridge then keeps it and refits the intercept). Strength and prior are chosen by
cross-validation over the calibration trials (folds of one trial per class; held-out
squared error, ties to the stronger ridge); with a single fold, the middle strength
towards zero. Calibration trials run with noise seeds
disjoint from the test samples' (sample s uses noise seed s).

A `Calibration` is stored as JSON keyed by the chip's identity and the compiled network's
fingerprint, so it is only ever applied to the chip and network it was made for.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg import cho_factor, cho_solve

from harness.compiler.decoding import Decoder
from sim.atomic import write_json
from sim.tasks.base import Dataset, Task

SPLITS = ("train", "val")
STRENGTHS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # relative to the mean feature energy (sim.readout)
NOISE_SEED_BASE = 2**32  # calibration trial i runs with noise seed NOISE_SEED_BASE + i
FORMAT = "snn-hil-calibration"


class CalibrationError(ValueError):
    """A calibration cannot be made or does not fit the chip or network it is applied to."""


def calibration_data(task: Task, trials: int, split: str = "train") -> Dataset:
    """`trials` class-balanced trials of `split` (train or val; never test)."""
    if split not in SPLITS:
        raise CalibrationError(f"calibration split {split!r}: choose {' or '.join(SPLITS)} (never the test split)")
    return getattr(task, split).balanced(trials, task.n_classes)


def noise_seeds(trials: int) -> np.ndarray:
    return NOISE_SEED_BASE + np.arange(trials, dtype=np.uint64)


@dataclass(frozen=True)
class RidgeChoice:
    """What cross-validation chose: the ridge strength, and what the readout is shrunk towards."""

    strength: float
    towards: str  # "zero" (a free refit) or "compiled" (the compiled readout, adjusted)

    def __str__(self) -> str:
        return f"ridge {self.strength:g} towards the {'compiled readout' if self.towards == 'compiled' else 'zero'}"


def fit_readouts(decoder: Decoder, spikes: np.ndarray, data: Dataset,
                 n_classes: int) -> tuple[list[Decoder], list[RidgeChoice]]:
    """Per chip, the decoder refitted on that chip's calibration spikes [chips, K, T, neurons]
    of `data` (K trials, class-balanced); returns (decoders, the ridge chosen per chip)."""
    folds = _folds(data.labels, n_classes)
    priors = {"zero": np.zeros_like(decoder.w_out), "compiled": decoder.w_out}
    steps = int(np.flatnonzero(np.any(data.mask, axis=0)).max()) + 1  # the filter is causal: no later step counts
    decoders, choices = [], []
    for chip_spikes in spikes:
        gram, cross, energy = _trial_moments(decoder.filtered(chip_spikes[:, :steps]), data)
        choice = _cross_validated_ridge(gram, cross, energy, folds, priors)
        w = _solve(gram.sum(0), cross.sum(0), choice.strength, [priors[choice.towards]])[0]
        decoders.append(decoder.with_readout(w[:-1], w[-1]))
        choices.append(choice)
    return decoders, choices


def _trial_moments(features: np.ndarray, data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trial, over its decision steps, the moments of the features [K, steps, n] (the
    first `steps` of the trial, holding every decision step) with an intercept column,
    x = [r, 1]: (Σ xxᵀ [K, n+1, n+1], Σ x yᵀ [K, n+1, n_out], Σ |y|² [K])."""
    steps = features.shape[1]
    grams, crosses, energies = [], [], []
    for trial_features, targets, mask in zip(features, np.asarray(data.targets[:, :steps], np.float64),
                                             data.mask[:, :steps]):
        x = np.concatenate([trial_features[mask], np.ones((int(mask.sum()), 1))], axis=1)
        y = targets[mask]
        grams.append(x.T @ x)
        crosses.append(x.T @ y)
        energies.append(float(np.sum(y * y)))
    return np.stack(grams), np.stack(crosses), np.array(energies)


def _solve(gram: np.ndarray, cross: np.ndarray, strength: float, priors: list[np.ndarray]) -> list[np.ndarray]:
    """Ridge on [r, 1] shrinking w towards each of `priors`, the intercept unpenalised:
    argmin |Xw - Y|² + p·|w - prior|², p = `strength` × the mean diagonal of the features'
    Gram matrix (as sim.readout.solve_ridge); one factorisation serves every prior."""
    n = gram.shape[0] - 1
    penalty = strength * max(float(np.trace(gram[:n, :n])) / max(n, 1), 1e-12)
    reg = np.diag(np.r_[np.full(n, penalty), 0.0])
    targets = np.concatenate([cross + reg @ np.vstack([prior, np.zeros((1, prior.shape[1]))]) for prior in priors],
                             axis=1)
    try:
        solution = cho_solve(cho_factor(gram + reg), targets)  # symmetric positive definite: Cholesky
    except LinAlgError:  # singular (e.g. a silent chip and no penalty): the general solver
        solution = np.linalg.lstsq(gram + reg, targets, rcond=None)[0]
    return np.split(solution, len(priors), axis=1)


def _folds(labels: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """Trial indices of each fold: the i-th trial of every class."""
    members = [np.flatnonzero(labels == c) for c in range(n_classes)]
    per_class = min(m.size for m in members)
    return [np.array([m[i] for m in members]) for i in range(per_class)]


def _cross_validated_ridge(gram: np.ndarray, cross: np.ndarray, energy: np.ndarray, folds: list[np.ndarray],
                           priors: dict[str, np.ndarray]) -> RidgeChoice:
    """The ridge (strength and prior) with the least held-out squared error summed over
    folds; ties go to the stronger ridge. With one fold: the middle strength towards zero."""
    if len(folds) < 2:
        return RidgeChoice(STRENGTHS[len(STRENGTHS) // 2], "zero")
    total_gram, total_cross = gram.sum(0), cross.sum(0)
    errors = {RidgeChoice(s, towards): 0.0 for s in STRENGTHS for towards in priors}
    for fold in folds:
        held_gram, held_cross = gram[fold].sum(0), cross[fold].sum(0)
        for strength in STRENGTHS:
            fits = _solve(total_gram - held_gram, total_cross - held_cross, strength, list(priors.values()))
            for towards, w in zip(priors, fits):
                errors[RidgeChoice(strength, towards)] += float(
                    np.sum(w * (held_gram @ w)) - 2 * np.sum(w * held_cross) + energy[fold].sum())
    scale = max(abs(e) for e in errors.values()) or 1.0
    return min(errors, key=lambda c: (round(errors[c] / scale, 9), -c.strength))


@dataclass(frozen=True)
class Calibration:
    """A chip's fitted readout and what it was made for."""

    chip: dict[str, Any]      # the chip's identity (spec version and name, chip id, firmware, mismatch)
    network: str              # fingerprint of the compiled network (harness.networks.compiled_fingerprint)
    trials: int
    split: str
    ridge: RidgeChoice
    decoder: Decoder

    def save(self, path: str | Path) -> Path:
        return write_json(path, {"format": FORMAT, "chip": self.chip, "network": self.network, "trials": self.trials,
                                 "split": self.split, "ridge": {"strength": self.ridge.strength, "towards": self.ridge.towards},
                                 "decoder": self.decoder.to_dict()})

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise CalibrationError(f"{path}: not a calibration file (make one with `harness calibrate`)")
            ridge = RidgeChoice(float(data["ridge"]["strength"]), str(data["ridge"]["towards"]))
            return cls(dict(data["chip"]), str(data["network"]), int(data["trials"]), str(data["split"]), ridge,
                       Decoder.from_dict(data["decoder"]))
        except FileNotFoundError:
            raise CalibrationError(f"{path}: no such calibration file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise
            raise CalibrationError(f"{path}: unreadable calibration file ({exc!r})") from None

    def check(self, chip_id: str, network: str) -> None:
        """CalibrationError unless this calibration was made for chip `chip_id` and `network`."""
        if self.chip.get("chip_id") != chip_id:
            raise CalibrationError(f"this calibration was made for chip {self.chip.get('chip_id')}, not {chip_id}; "
                                   "calibrate this chip with `harness calibrate`")
        if self.network != network:
            raise CalibrationError(f"this calibration was made for compiled network {self.network}, not {network}; "
                                   "recalibrate after compiling")
