"""Per-core bias DAC codes: membrane and synaptic decays, threshold, DC drive.

Conventions (dt = 1 ms): the float membrane decays by (1 − 1/τ_mem) per step, so
dmem = 65536/τ_mem; a synaptic current decays by exp(−1/τ), so dsyn = 65536·(1 − e^(−1/τ)).
Each core takes the median τ of its neurons. Excitatory and inhibitory types of one time
class share a τ (AMPA/GABA_A fast, NMDA/GABA_B slow); a core without fast recurrent
weights gets the shortest fast τ, so that inputs act as an almost direct current.

Voltage scale: the threshold θ is the integer that stands for the normalised threshold
1, as large as the DC range allows (≤ THETA_TARGET keeps 8 thresholds of headroom
below 0 before the chip's v clip). One normalised current unit is κ = θ·dmem/65536
itot units, which keeps the float steady state u∞ = drive + g·I. The core's idc carries
the median drive; each neuron's remainder is returned as `residual` (itot units).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.compiler.neurons import Normalised
from sim.chip.config import ChipConfig
from sim.chip.dac import dac_code, dac_value, nearest_code
from sim.chip.spec import DMEM_RANGE, DSYN_RANGE, IDC_MAGNITUDE_MAX, ChipSpec

THETA_TARGET = 2**20
IDC_HEADROOM = 0.9
FASTEST_DSYN = 65535


@dataclass
class CoreBiases:
    """Realised per-core values and the desired ones they approximate."""

    a_mem: np.ndarray     # [C] realised membrane decrement per step (dmem / 65536)
    decay: np.ndarray     # [C, 4] realised synaptic decay factor per step (1 − dsyn / 65536)
    kappa: np.ndarray     # [C] itot units per normalised current unit
    idc: np.ndarray       # [C] realised idc
    residual: np.ndarray  # [N] (network order) drive the core's idc misses, itot units
    desired: dict[str, np.ndarray]  # per core: tau_mem, tau_fast, tau_slow, drive (nan: unused core)


def code(value: float, lo: int, hi: int) -> tuple[np.ndarray, int]:
    """The DAC (fine, coarse) nearest `value` within [lo, hi] (`nearest_code`), and its value."""
    best = nearest_code(value, lo, hi)
    return np.array(best), int(dac_value(*best))


def choose_biases(config: ChipConfig, norm: Normalised, chip_id: np.ndarray, has_fast: np.ndarray) -> CoreBiases:
    """Write dmem, dsyn, theta, idc and t_ref codes into `config`; return realised values.

    `has_fast[n]`: network neuron n receives fast recurrent weights.
    """
    spec: ChipSpec = config.spec
    core_of = spec.core_of(chip_id)
    cores = spec.cores
    a_mem, decay, kappa, idc = np.zeros(cores), np.ones((cores, 4)), np.zeros(cores), np.zeros(cores)
    desired = {key: np.full(cores, np.nan) for key in ("tau_mem", "tau_fast", "tau_slow", "drive")}
    config.t_ref[:] = 0
    for core in range(cores):
        members = core_of == core
        if not members.any():
            continue
        tau_mem = float(np.median(norm.tau_mem[members]))
        tau_slow = float(np.median(norm.tau_slow[members]))
        fast = members & has_fast
        tau_fast = float(np.median(norm.tau_fast[fast])) if fast.any() else np.nan
        drive = float(np.median(norm.drive[members]))
        desired["tau_mem"][core], desired["tau_fast"][core] = tau_mem, tau_fast
        desired["tau_slow"][core], desired["drive"][core] = tau_slow, drive

        config.dmem[core], dmem = code(65536.0 / tau_mem, *DMEM_RANGE)
        a_mem[core] = dmem / 65536.0
        d_fast = FASTEST_DSYN if np.isnan(tau_fast) else 65536.0 * -np.expm1(-1.0 / tau_fast)
        for kinds, d in (((0, 2), d_fast), ((1, 3), 65536.0 * -np.expm1(-1.0 / tau_slow))):
            codes, realised = code(d, *DSYN_RANGE)
            for k in kinds:
                config.dsyn[core, k] = codes
                decay[core, k] = 1.0 - realised / 65536.0

        theta = THETA_TARGET
        if drive != 0:
            theta = min(theta, IDC_HEADROOM * IDC_MAGNITUDE_MAX / (a_mem[core] * abs(drive)))
        config.theta[core], theta_value = code(theta, 1, THETA_TARGET)
        kappa[core] = theta_value * a_mem[core]
        fine, coarse, negative = dac_code(kappa[core] * drive)
        config.idc[core] = (fine, coarse, negative)
        idc[core] = float(dac_value(fine, coarse, negative))
    residual = kappa[core_of] * norm.drive - idc[core_of]
    return CoreBiases(a_mem=a_mem, decay=decay, kappa=kappa, idc=idc, residual=residual, desired=desired)
