"""The supply-voltage law shared by the supply model (biases) and the power model (energy)."""
from __future__ import annotations


def supply_factor(volts: float, nominal_v: float, alpha: float) -> float:
    """(V / V_nominal) ** alpha; ValueError for a non-positive voltage."""
    if volts <= 0 or nominal_v <= 0:
        raise ValueError(f"supply voltage {volts} V and nominal {nominal_v} V must be > 0")
    return float((volts / nominal_v) ** alpha)
