"""One readout for every chip: fitted across sampled virtual chips instead of the nominal one.

`harness.deploy.refit_readout` fits the compiled network's readout on the nominal chip's
spikes, so it is tuned to a chip that does not exist. `fit_across_chips` fits it by ridge
(with an intercept, as `harness.calibration`) on the spikes of the nominal chip and of K
virtual chips sampled at the deployment's mismatch, with seeds from SEED_BASE up, or past the
judged chips where those reach SEED_BASE (`sampled_seeds`): never a chip that is judged. No
chip is calibrated, the same readout ships to all (the default of `harness compile
--readout` and of the run configuration's `readout`).
The ridge strength is chosen by leave-one-chip-out cross-validation (held-out squared
error), so it is picked for chips the fit has not seen.

A readout fitted for the population can fail the nominal chip, so the fit is guarded: the
nominal chip's trials are weighted 1, 2, 4, … `NOMINAL_WEIGHTS[-1]` times, and the first
weight whose readout scores the nominal chip on the validation split within one sample of
the nominal re-fit (`harness.deploy.refit_readout`) ships; where none does, the nominal
re-fit ships.

With `normalised` (the "shared-normalised" readout, the default) the readout reads each
neuron's trace divided by that neuron's own mean rate so far (`Decoder.normalised`), so a
gain that a chip's mismatch puts on a neuron's rate cancels (docs/fidelity.md 5.11); the
nominal re-fit that the guard compares with and falls back to reads the plain traces, and a
chip's calibration reads the normalised features and may shrink towards the shared readout.
On the plain traces ("shared") the decoder also carries the nominal re-fit
(`Decoder.prior`), which a chip's calibration shrinks towards instead of the shared readout
(`harness.calibration`): a readout fitted for the population on the plain traces is a poor
prior for one chip (docs/fidelity.md 5.8).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from drivers.population import SimulatedPopulation
from harness.calibration import STRENGTHS, noise_seeds, solve_readouts, summed_moments
from harness.compiler import CompiledNetwork
from harness.deploy import population_spikes, refit_readout
from sim.chip.mismatch import MismatchLevel
from sim.tasks.base import Dataset, Task

SEED_BASE = 2**31  # sampled chip k has seed SEED_BASE + k, unless judged chips are there
SEED_END = 2**64  # chip seeds are unsigned 64-bit
SHARED_CHIPS = 16  # sampled chips a shared readout is fitted on
NOMINAL_WEIGHTS = (1, 2, 4, 8, 16, 32, 64)  # the nominal chip's weight in the fit, tried in turn (the guard)


def sampled_seeds(chips: int, judged: range = range(0), base: int = SEED_BASE) -> list[int]:
    """`chips` chip seeds for fitting, from `base` up, or next to the `judged` seeds when
    those overlap base..base+chips (after them where room is left, else before)."""
    start = base
    if judged and judged.start < base + chips and base < judged.stop:
        start = judged.stop if judged.stop + chips <= SEED_END else judged.start - chips
    return list(range(start, start + chips))


def fit_across_chips(compiled: CompiledNetwork, task: Task, *, chips: int = SHARED_CHIPS, samples: int = 64,
                     mismatch: MismatchLevel = "spec", backend: str = "auto",
                     judged: range = range(0), normalised: bool = False) -> CompiledNetwork:
    """The compiled network with one readout fitted on `samples` class-balanced training trials
    (fewer where the classes cannot give them equally) run through the nominal chip and `chips`
    sampled chips at `mismatch`, none of them among the `judged` chip seeds, guarded to keep
    the nominal chip (see module doc); with `normalised`, on rate-normalised traces."""
    if chips < 1:
        raise ValueError(f"chips must be >= 1 to fit a readout across chips, got {chips}")
    fitting = sampled_seeds(chips, judged)
    data = _balanced_training(task, samples)
    encoded = compiled.encoder.encode(data.inputs)
    seeds = noise_seeds(len(data))
    nominal_chip = SimulatedPopulation(0, backend)
    reading = replace(compiled.decoder, normalised=normalised)
    moments = [summed_moments(reading, population_spikes(compiled, encoded, [0], seeds, nominal_chip)[0], data)]
    sampled = SimulatedPopulation(mismatch, backend)
    per_run = 8  # chips simulated at once; only their moments are kept
    for first in range(0, chips, per_run):
        moments.extend(summed_moments(reading, chip, data)
                       for chip in population_spikes(compiled, encoded, fitting[first:first + per_run], seeds, sampled))
    gram, cross, energy = (np.stack(part) for part in zip(*moments))

    nominal = refit_readout(compiled, task, backend).decoder
    val = task.val
    val_spikes = population_spikes(compiled, compiled.encoder.encode(val.inputs), [0],  # seeds as harness.deploy's
                                   np.arange(len(val), dtype=np.uint64), nominal_chip)[0].astype(np.float64)
    reference = float(task.accuracy(nominal.decode(val_spikes), val))
    report = {"split": "train", "samples": len(data), "chip": "shared", "sampled_chips": chips,
              "normalised": normalised, "mismatch": str(mismatch), "seed_base": fitting[0],
              "nominal_val_reference": reference}
    for weight in NOMINAL_WEIGHTS:
        weights = np.r_[float(weight), np.ones(chips)]
        w, strength = _fit_weighted(gram * weights[:, None, None], cross * weights[:, None, None], energy * weights)
        decoder = reading.with_readout(w[:-1], w[-1])
        if not normalised:  # a chip's calibration shrinks a plain shared readout towards the nominal re-fit
            decoder = replace(decoder, prior=nominal.w_out)
        accuracy = float(task.accuracy(decoder.decode(val_spikes), val))
        if accuracy >= reference - 1 / len(val) - 1e-12:  # within one validation sample
            report.update(nominal_weight=weight, ridge=strength, nominal_val_accuracy=accuracy)
            break
    else:  # no weight keeps the nominal chip: ship its own re-fit
        decoder = nominal
        report.update(nominal_weight=None, ridge=None, nominal_val_accuracy=reference)
    return replace(compiled, decoder=decoder, report={**compiled.report, "readout_refit": report})


def _balanced_training(task: Task, samples: int) -> Dataset:
    """About `samples` class-balanced training trials: the most, up to `samples`, that every
    class can give equally (at least one per class)."""
    fewest = int(np.bincount(task.train.labels, minlength=task.n_classes).min())
    per_class = max(1, min(samples // task.n_classes, fewest))
    return task.train.balanced(per_class * task.n_classes, task.n_classes)


def _fit_weighted(gram: np.ndarray, cross: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, float]:
    """(w [n+1, n_out], strength): ridge on every chip's (weighted) moments towards zero, the
    strength with the least held-out squared error when each chip in turn is left out."""
    zero = [np.zeros((gram.shape[1] - 1, cross.shape[2]))]

    def held_out_error(strength: float) -> float:
        error = 0.0
        for k in range(len(gram)):
            w = solve_readouts(gram.sum(0) - gram[k], cross.sum(0) - cross[k], strength, zero)[0]
            error += float(np.sum(w * (gram[k] @ w)) - 2 * np.sum(w * cross[k]) + energy[k])
        return error

    strength = min(STRENGTHS, key=held_out_error)
    return solve_readouts(gram.sum(0), cross.sum(0), strength, zero)[0], strength
