"""Per-chip calibration: fit a chip's readout on a few class-balanced trials, as a lab would.

A chip runs K calibration trials drawn class-balanced from the task's training (or
validation) split — never the test split — and its readout (w_out and an intercept) is
refitted by ridge regression on that chip's readout features (the filtered output spikes,
rate-normalised where the compiled decoder is: `Decoder.features`) over the task's
decision steps, shrunk either towards zero (a free refit) or towards the compiled readout
(a strong ridge then keeps it and refits the intercept); where the compiled readout is a
shared one on the plain traces (`harness.shared_readout`), towards the nominal chip's
re-fit that its decoder carries (`Decoder.prior`) instead, so a chip calibrates as it
would from the nominal re-fit (a readout fitted for the population is a poor prior for
one chip on the plain traces: docs/fidelity.md 5.8; on normalised features the shared
readout is the prior, 5.13). Strength and prior are chosen by
cross-validation over the calibration trials (folds of one trial per class; held-out
squared error, ties to the stronger ridge); with a single fold, the middle strength
towards zero, or for a rate-normalised decoder the strongest towards its compiled readout
(the intercept refitted: docs/fidelity.md 5.13). Calibration trials run with noise seeds
disjoint from the test samples' (sample s uses noise seed s). `harness.calibration_file`
stores a chip's calibration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg import cho_factor, cho_solve

from harness.compiler.decoding import Decoder
from sim.tasks.base import Dataset, Task

SPLITS = ("train", "val")
STRENGTHS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # relative to the mean feature energy (sim.readout)
TOWARDS = ("zero", "compiled", "nominal")  # what a calibrated readout may be shrunk towards
NOISE_SEED_BASE = 2**32  # calibration trial i runs with noise seed NOISE_SEED_BASE + i


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
    towards: str  # one of TOWARDS: zero (a free refit), the compiled readout, or the nominal re-fit it carries

    def __str__(self) -> str:
        names = {"zero": "zero", "compiled": "compiled readout", "nominal": "nominal chip's readout"}
        return f"ridge {self.strength:g} towards the {names[self.towards]}"


def fit_readouts(decoder: Decoder, spikes: np.ndarray, data: Dataset,
                 n_classes: int) -> tuple[list[Decoder], list[RidgeChoice]]:
    """Per chip, the decoder refitted on that chip's calibration spikes [chips, K, T, neurons]
    of `data` (K trials, class-balanced); returns (decoders, the ridge chosen per chip)."""
    folds = _folds(data.labels, n_classes)
    priors = {"zero": np.zeros_like(decoder.w_out)}
    priors.update({"compiled": decoder.w_out} if decoder.prior is None else {"nominal": decoder.prior})
    # one trial per class cannot choose a ridge: a normalised decoder keeps its readout and refits the intercept
    # (a free fit on its uneven features fails every chip), others take the middle strength towards zero
    single_fold = (RidgeChoice(STRENGTHS[-1], "compiled") if decoder.normalised
                   else RidgeChoice(STRENGTHS[len(STRENGTHS) // 2], "zero"))
    decoders, choices = [], []
    for chip_spikes in spikes:
        gram, cross, energy = trial_moments(decoder, chip_spikes, data)
        choice = _cross_validated_ridge(gram, cross, energy, folds, priors, single_fold)
        w = solve_readouts(gram.sum(0), cross.sum(0), choice.strength, [priors[choice.towards]])[0]
        decoders.append(decoder.with_readout(w[:-1], w[-1]))
        choices.append(choice)
    return decoders, choices


def trial_moments(decoder: Decoder, spikes: np.ndarray, data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trial of `data`, over its decision steps, the moments of the decoder's features of
    `spikes` [K, T, n] with an intercept column, x = [r, 1]: (Σ xxᵀ [K, n+1, n+1],
    Σ x yᵀ [K, n+1, n_out], Σ |y|² [K])."""
    n, n_out = spikes.shape[-1], data.targets.shape[-1]
    grams, crosses = np.empty((len(data), n + 1, n + 1)), np.empty((len(data), n + 1, n_out))
    energies = np.empty(len(data))
    for i, moments in enumerate(_each_trial(decoder, spikes, data)):
        grams[i], crosses[i], energies[i] = moments
    return grams, crosses, energies


def summed_moments(decoder: Decoder, spikes: np.ndarray, data: Dataset) -> tuple[np.ndarray, np.ndarray, float]:
    """`trial_moments` summed over the trials (the same sums, in the same order), without
    holding every trial's."""
    gram, cross, energies = 0.0, 0.0, []
    for trial_gram, trial_cross, trial_energy in _each_trial(decoder, spikes, data):
        gram, cross = gram + trial_gram, cross + trial_cross
        energies.append(trial_energy)
    return gram, cross, float(np.sum(energies))


def _each_trial(decoder: Decoder, spikes: np.ndarray, data: Dataset) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """Each trial's (Σ xxᵀ, Σ x yᵀ, Σ |y|²), its spikes filtered on their own up to its last
    decision step (`Decoder.masked_traces`)."""
    for trial_spikes, targets, mask in zip(spikes, data.targets, data.mask):
        traces = decoder.masked_traces(trial_spikes[None], mask[None])
        x = np.concatenate([traces, np.ones((len(traces), 1))], axis=1)
        y = np.asarray(targets, np.float64)[mask]
        yield x.T @ x, x.T @ y, float(np.sum(y * y))


def solve_readouts(gram: np.ndarray, cross: np.ndarray, strength: float, priors: list[np.ndarray]) -> list[np.ndarray]:
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
                           priors: dict[str, np.ndarray], single_fold: RidgeChoice) -> RidgeChoice:
    """The ridge (strength and prior) with the least held-out squared error summed over
    folds; ties go to the stronger ridge. With one fold: `single_fold`."""
    if len(folds) < 2:
        return single_fold
    total_gram, total_cross = gram.sum(0), cross.sum(0)
    errors = {RidgeChoice(s, towards): 0.0 for s in STRENGTHS for towards in priors}
    for fold in folds:
        held_gram, held_cross = gram[fold].sum(0), cross[fold].sum(0)
        for strength in STRENGTHS:
            fits = solve_readouts(total_gram - held_gram, total_cross - held_cross, strength, list(priors.values()))
            for towards, w in zip(priors, fits):
                errors[RidgeChoice(strength, towards)] += float(
                    np.sum(w * (held_gram @ w)) - 2 * np.sum(w * held_cross) + energy[fold].sum())
    scale = max(abs(e) for e in errors.values()) or 1.0
    return min(errors, key=lambda c: (round(errors[c] / scale, 9), -c.strength))
