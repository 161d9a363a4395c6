"""Device mismatch per CHIP_SPEC §3: what makes chip #k chip #k.

The z draws depend only on the chip seed (common random numbers across levels); a level
scales them through a lognormal multiplier with the requested coefficient of variation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sim.chip.config import ChipConfig
from sim.chip.spec import (DMEM_RANGE, DSYN_RANGE, IDC_MAGNITUDE_MAX, MISMATCH_CLASSES, THETA_RANGE,
                           WSYN_RANGE, ChipSpec)

DRAW_ORDER = ("dmem", "theta", "idc", "dsyn0", "dsyn1", "dsyn2", "dsyn3",
              "wsyn0", "wsyn1", "wsyn2", "wsyn3")
CLASS_OF = {"dmem": "dmem", "theta": "theta", "idc": "idc",
            "dsyn0": "dsyn", "dsyn1": "dsyn", "dsyn2": "dsyn", "dsyn3": "dsyn",
            "wsyn0": "wsyn_fast", "wsyn2": "wsyn_fast", "wsyn1": "wsyn_slow", "wsyn3": "wsyn_slow"}
UINT64_MAX = 2**64 - 1

MismatchLevel = float | str | dict


class MismatchError(ValueError):
    """A mismatch level or chip seed is not valid."""


def resolve_cv(level: MismatchLevel, spec: ChipSpec) -> dict[str, float]:
    """Coefficient of variation per class: 'spec' = the spec's defaults, a number = all
    classes, a dict = per class (missing classes 0). 0 is the nominal chip."""
    if isinstance(level, str):
        if level == "spec":
            return dict(spec.mismatch_cv)
        try:
            level = float(level.rstrip("%")) / (100.0 if level.endswith("%") else 1.0)
        except ValueError:
            raise MismatchError(f"mismatch level {level!r}: expected 'spec', a fraction like 0.1, or a percentage like 10%") from None
    if isinstance(level, dict):
        unknown = set(level) - set(MISMATCH_CLASSES)
        if unknown:
            raise MismatchError(f"unknown mismatch class(es) {sorted(unknown)}; known: {', '.join(MISMATCH_CLASSES)}")
        cv = {name: float(level.get(name, 0.0)) for name in MISMATCH_CLASSES}
    else:
        cv = {name: float(level) for name in MISMATCH_CLASSES}
    for name, value in cv.items():
        if not np.isfinite(value) or value < 0 or value > 10:
            raise MismatchError(f"mismatch cv for {name} = {value}: must be in [0, 10]")
    return cv


def check_chip_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= UINT64_MAX:
        raise MismatchError(f"chip seed {seed!r} must be an integer in 0..2**64-1")
    return int(seed)


def mismatch_z(chip_seed: int, n_neurons: int) -> dict[str, np.ndarray]:
    """Standard normal deviates for every parameter, in the spec's draw order."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(check_chip_seed(chip_seed))))
    return {name: rng.standard_normal(n_neurons) for name in DRAW_ORDER}


def lognormal_multiplier(z: np.ndarray, cv: float) -> np.ndarray:
    """exp(s·z − s²/2) with s = sqrt(ln(1 + cv²)): mean 1, coefficient of variation cv."""
    s = np.sqrt(np.log1p(cv * cv))
    return np.exp(s * z - s * s / 2)


@dataclass
class NeuronParams:
    """Effective integer parameters per neuron of one or more chips (leading axes = chips)."""

    dmem: np.ndarray   # [..., N]
    theta: np.ndarray  # [..., N]
    idc: np.ndarray    # [..., N]
    t_ref: np.ndarray  # [..., N]
    dsyn: np.ndarray   # [..., 4, N]
    wsyn: np.ndarray   # [..., 4, N]
    enabled: np.ndarray  # [N] bool (not subject to mismatch)


def chip_params(config: ChipConfig, chip_seed: int, level: MismatchLevel = "spec") -> NeuronParams:
    """Effective per-neuron parameters of chip `chip_seed` at mismatch `level`."""
    spec = config.spec
    cv = resolve_cv(level, spec)
    nominal = config.nominal()
    core = spec.core_of(np.arange(spec.n_neurons))
    z = mismatch_z(chip_seed, spec.n_neurons)

    def realise(name: str, per_neuron_nominal: np.ndarray, lo: int, hi: int) -> np.ndarray:
        scaled = per_neuron_nominal * lognormal_multiplier(z[name], cv[CLASS_OF[name]])
        return np.clip(np.rint(scaled), lo, hi).astype(np.int64)

    idc_nominal = nominal["idc"][core]
    idc = np.sign(idc_nominal) * realise("idc", np.abs(idc_nominal), 0, IDC_MAGNITUDE_MAX)
    return NeuronParams(
        dmem=realise("dmem", nominal["dmem"][core], *DMEM_RANGE),
        theta=realise("theta", nominal["theta"][core], *THETA_RANGE),
        idc=idc.astype(np.int64),
        t_ref=nominal["t_ref"][core],
        dsyn=np.stack([realise(f"dsyn{k}", nominal["dsyn"][core, k], *DSYN_RANGE) for k in range(4)]),
        wsyn=np.stack([realise(f"wsyn{k}", nominal["wsyn"][core, k], *WSYN_RANGE) for k in range(4)]),
        enabled=np.asarray(config.enabled, bool),
    )


def batch_params(config: ChipConfig, chip_seeds: Sequence[int], level: MismatchLevel = "spec") -> NeuronParams:
    """`chip_params` for many chips stacked along a leading axis (repeated seeds allowed)."""
    unique = {int(seed): chip_params(config, seed, level) for seed in dict.fromkeys(int(s) for s in chip_seeds)}
    chips = [unique[int(seed)] for seed in chip_seeds]
    return NeuronParams(**{name: np.stack([getattr(c, name) for c in chips])
                           for name in ("dmem", "theta", "idc", "t_ref", "dsyn", "wsyn")},
                        enabled=np.asarray(config.enabled, bool))
