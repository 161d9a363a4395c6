"""How the supply voltage acts on an emulated chip (docs/supply-model.md).

Every bias DAC of vc1 (dmem, theta, idc and dsyn/wsyn of each synapse type, per core) is
a current reference fed from the chip supply; at voltage V it delivers its nominal value
scaled by (V / V_nominal) ** alpha. The digital refractory period `t_ref` is unaffected.
The transform acts on the configuration's codes: each scaled value is re-encoded as the
nearest DAC code within the parameter's vc1 range, so an emulated chip (in process, on the
batched simulator or behind a virtual board) realises it bit for bit, mismatch included.
The same law, (V / V_nominal) ** 2, scales the power model's dynamic energies
(`sim.chip.power`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.chip.config import ChipConfig
from sim.chip.dac import dac_value, nearest_code
from sim.chip.spec import DMEM_RANGE, DSYN_RANGE, IDC_MAGNITUDE_MAX, THETA_RANGE, WSYN_RANGE
from sim.chip.voltage import supply_factor

RANGES = {"dmem": DMEM_RANGE, "theta": THETA_RANGE, "dsyn": DSYN_RANGE, "wsyn": WSYN_RANGE,
          "idc": (-IDC_MAGNITUDE_MAX, IDC_MAGNITUDE_MAX)}


def supplied_config(config: ChipConfig, volts: float, nominal_v: float, alpha: float) -> ChipConfig:
    """`config` as the chip realises it at supply `volts` (a new, validated configuration)."""
    factor = supply_factor(volts, nominal_v, alpha)
    codes = {name: _scaled_codes(np.asarray(getattr(config, name)), factor, RANGES[name], signed=name == "idc")
             for name in RANGES}
    return replace(config, **codes).validate()


def _scaled_codes(codes: np.ndarray, factor: float, limits: tuple[int, int], signed: bool) -> np.ndarray:
    """Codes [..., 2] (or [..., 3] with a sign bit) whose values are `factor` × the old ones,
    each the nearest code within `limits` (`nearest_code`; a signed value by its magnitude)."""
    values = dac_value(*np.moveaxis(codes, -1, 0)) * factor
    lo, hi = limits
    out = np.array(codes, np.int64)
    for index in np.ndindex(values.shape):
        value = float(values[index])
        fine, coarse = nearest_code(abs(value), 0, hi) if signed else nearest_code(value, lo, hi)
        out[index][:2] = fine, coarse
        if signed:
            out[index][2] = int(value < 0 and fine > 0)
    return out
