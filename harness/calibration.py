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
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg import cho_factor, cho_solve

from drivers.chip import ChipIdentity
from harness.boards.realise import same_level
from harness.compiler import CompiledNetwork
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
        gram, cross, energy = trial_moments(decoder.filtered(chip_spikes[:, :steps]), data)
        choice = _cross_validated_ridge(gram, cross, energy, folds, priors)
        w = solve_readouts(gram.sum(0), cross.sum(0), choice.strength, [priors[choice.towards]])[0]
        decoders.append(decoder.with_readout(w[:-1], w[-1]))
        choices.append(choice)
    return decoders, choices


def trial_moments(features: np.ndarray, data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
            fits = solve_readouts(total_gram - held_gram, total_cross - held_cross, strength, list(priors.values()))
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
        """The calibration in `path`, every field checked (CalibrationError naming the file and field)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CalibrationError(f"{path}: no such calibration file") from None
        except OSError as exc:
            raise CalibrationError(f"{path}: cannot read calibration file ({exc.strerror or exc})") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise CalibrationError(f"{path}: not a calibration file (binary data, not JSON; make one with "
                                   "`harness calibrate`)") from None
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}: not a calibration file (invalid JSON: {exc}); make one with "
                                   "`harness calibrate`") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError(f"{path}: not a calibration file (make one with `harness calibrate`)")
        fields = CalibrationFields(path, data)
        return cls(fields.chip(), fields.text("network"), fields.integer("trials", low=1),
                   fields.choice("split", SPLITS), fields.ridge(), fields.decoder())

    def check(self, identity: ChipIdentity, compiled: CompiledNetwork, task: Task) -> None:
        """CalibrationError unless this calibration was made for the chip `identity` names (spec,
        chip, mismatch) and for `compiled` (fingerprint, the decoder's neurons, sizes and filter),
        and its trials can be drawn class-balanced from its split of `task`."""
        from harness.networks import compiled_fingerprint  # noqa: PLC0415 - harness.networks imports this module
        made = self.chip
        for name in ("spec_name", "spec_version", "chip_id"):
            if made[name] != getattr(identity, name):
                what = "chip" if name == "chip_id" else name.replace("_", " ")
                raise CalibrationError(f"this calibration was made for {what} {made[name]}, not "
                                       f"{getattr(identity, name)} (field 'chip.{name}'); calibrate this chip with "
                                       "`harness calibrate`")
        if not same_level(made["mismatch"], identity.mismatch, compiled.config.spec):
            raise CalibrationError(f"this calibration was made for chip {made['chip_id']} at mismatch "
                                   f"{made['mismatch']}, not at mismatch {identity.mismatch} (field "
                                   "'chip.mismatch'); calibrate the chip at this mismatch")
        fingerprint = compiled_fingerprint(compiled)
        if self.network != fingerprint:
            raise CalibrationError(f"this calibration was made for compiled network {self.network}, not "
                                   f"{fingerprint} (field 'network'); recalibrate after compiling")
        ours, theirs = self.decoder, compiled.decoder
        if ours.neurons.shape != theirs.neurons.shape or np.any(ours.neurons != theirs.neurons):
            raise CalibrationError(f"field 'decoder.neurons' reads out neurons {_ids(ours.neurons)}, not the compiled "
                                   f"decoder's {_ids(theirs.neurons)}; recalibrate with `harness calibrate`")
        if ours.w_out.shape != theirs.w_out.shape:
            raise CalibrationError(f"field 'decoder.w_out' is {ours.w_out.shape[0]} x {ours.w_out.shape[1]}, not the "
                                   f"compiled decoder's {theirs.w_out.shape[0]} x {theirs.w_out.shape[1]}")
        if ours.tau_out != theirs.tau_out:
            raise CalibrationError(f"field 'decoder.tau_out' is {ours.tau_out:g}, not the compiled decoder's "
                                   f"{theirs.tau_out:g}")
        size = len(getattr(task, self.split))
        if self.trials % task.n_classes or self.trials > size:
            raise CalibrationError(f"field 'trials' is {self.trials}: calibration trials are a multiple of the "
                                   f"task's {task.n_classes} classes and at most its {self.split} split's {size} "
                                   "samples")


def _ids(neurons: np.ndarray) -> str:
    shown = ", ".join(str(n) for n in neurons[:6])
    return f"[{shown}{', ...' if len(neurons) > 6 else ''}] ({len(neurons)})"


class CalibrationFields:
    """The fields of a parsed calibration file, each checked with an error naming the file and field."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path, self.data = path, data

    def fail(self, name: str, problem: str) -> CalibrationError:
        return CalibrationError(f"{self.path}: field '{name}' {problem}")

    def get(self, name: str) -> Any:
        value: Any = self.data
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                raise self.fail(name, "is missing")
            value = value[part]
        return value

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, f"must be a non-empty string, got {value!r}")
        return value

    def integer(self, name: str, low: int) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(name, f"must be an integer >= {low}, got {value!r}")
        return value

    def number(self, name: str, positive: bool = False) -> float:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                (positive and value <= 0):
            raise self.fail(name, f"must be a finite number{' > 0' if positive else ''}, got {value!r}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.get(name)
        if value not in choices:
            raise self.fail(name, f"must be {' or '.join(repr(c) for c in choices)}, got {value!r}")
        return value

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A list of finite numbers (nested to `shape`) as float64."""
        value = self.get(name)
        try:
            array = np.asarray(value, np.float64) if isinstance(value, list) else None
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape != shape:
            raise self.fail(name, f"must be a list of numbers of shape {list(shape)}")
        if not np.all(np.isfinite(array)):
            raise self.fail(name, f"has {int(np.sum(~np.isfinite(array)))} values that are not finite (NaN or "
                                  "infinite)")
        return array

    def chip(self) -> dict[str, Any]:
        chip = self.get("chip")
        if not isinstance(chip, dict):
            raise self.fail("chip", f"must be the chip's identity (an object), got {chip!r}")
        for name in ("spec_name", "spec_version", "chip_id", "mismatch"):
            self.text(f"chip.{name}")
        return dict(chip)

    def ridge(self) -> RidgeChoice:
        return RidgeChoice(self.number("ridge.strength", positive=True),
                           self.choice("ridge.towards", ("zero", "compiled")))

    def decoder(self) -> Decoder:
        neurons = self.get("decoder.neurons")
        if not isinstance(neurons, list) or not neurons or \
                not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in neurons):
            raise self.fail("decoder.neurons", "must be a non-empty list of neuron ids (integers >= 0)")
        n_out = self.integer("decoder.n_out", low=1)
        w_out = self.array("decoder.w_out", (len(neurons), n_out))
        bias = None if self.data["decoder"].get("bias") is None else self.array("decoder.bias", (n_out,))
        return Decoder(np.asarray(neurons, np.int64), w_out, self.number("decoder.tau_out", positive=True), bias)
