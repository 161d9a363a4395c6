"""Which suite conditions a board can realise.

A board is one chip with its own mismatch: at the mismatch sweep it realises one point (a
physical chip realises the spec's mismatch, of which the virtual chips at "spec" are the
model; an emulated board realises its own level). Weight quantisation (a recompiled
configuration), neuron failure (neurons disabled in the configuration) and temporal noise
(the chip's noise amplitude) are loaded onto the board. The supply sweep acts on a board
only when real instruments drive its supply (never on simulated instruments).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.chip import PHYSICAL
from sim.chip.mismatch import MismatchLevel, resolve_cv
from sim.chip.spec import ChipSpec, load_spec

VIRTUAL_ONLY = "virtual chips only"


def board_level(identity_mismatch: str) -> MismatchLevel:
    """The mismatch level a board realises: a physical chip is a chip as manufactured ("spec")."""
    return "spec" if identity_mismatch == PHYSICAL else identity_mismatch


def same_level(a: MismatchLevel, b: MismatchLevel, spec: str | Path | ChipSpec) -> bool:
    """Whether two mismatch levels make the same chips on `spec` ('0' and '0.0' do; a level
    that does not resolve, such as PHYSICAL, is only itself)."""
    if a == b:
        return True
    try:
        chip_spec = load_spec(spec)
        return resolve_cv(a, chip_spec) == resolve_cv(b, chip_spec)
    except ValueError:
        return False


def unrealisable(suite: str, value: Any, identity_mismatch: str, *, population_mismatch: MismatchLevel,
                 instruments: str, spec: str) -> str | None:
    """Why a board with mismatch `identity_mismatch` cannot realise `suite` at `value`
    (None: it can)."""
    level = board_level(identity_mismatch)
    if suite == "mismatch_yield":
        return None if same_level(level, value, spec) else f"{VIRTUAL_ONLY}: the board is its own mismatch ({level})"
    if not same_level(level, population_mismatch, spec):
        return (f"{VIRTUAL_ONLY}: the board's mismatch {level} is not the virtual chips' {population_mismatch}, "
                "so they do not predict it")
    if suite == "supply_sweep" and instruments in ("sim", "none"):
        return f"{VIRTUAL_ONLY}: the supply of a board is swept only by real instruments (instruments = {instruments})"
    return None
