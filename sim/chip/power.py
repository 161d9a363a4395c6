"""The chip power model (docs/chip-spec.md, "Power model"): energy of a run from its activity.

    E = Σ_events count_e · E_e · (V / V_nom)²                         (dynamic, CV² switching)
      + cores · P_static · (V / V_nom) · exp((V − V_nom) / V_leak) · T · dt    (static, leakage)

at supply V (the nominal supply when none is given). Event energies and static power come
from the spec file's `[power]` table; `supply_factor` is the supply model's law
(docs/supply-model.md, `sim.chip.voltage`), with exponent 2 for the dynamic term.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from sim.chip.voltage import supply_factor

# event counter (sim.chip.activity) -> its energy field in [power]
EVENT_ENERGIES = {"spike_count": "energy_per_spike_j", "synaptic_events": "energy_per_synaptic_event_j",
                  "input_events": "energy_per_input_event_j", "routed_events": "energy_per_routed_event_j"}
# supply rails a board's power monitor reports, and the events each one powers (static power: core)
RAILS = {"core": ("spike_count", "synaptic_events"), "io": ("input_events", "routed_events")}
POWER_FIELDS = ("nominal_supply_v", "static_power_per_core_w", "leakage_voltage_v", *EVENT_ENERGIES.values())


@dataclass(frozen=True)
class PowerModel:
    """Per-event energies (J) and static power per core (W) at `nominal_supply_v` (V)."""

    nominal_supply_v: float
    static_power_per_core_w: float
    leakage_voltage_v: float
    energy_per_spike_j: float
    energy_per_synaptic_event_j: float
    energy_per_input_event_j: float
    energy_per_routed_event_j: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def dynamic_scale(self, volts: float | None) -> float:
        """(V / V_nom)²: switched capacitance at supply V."""
        return 1.0 if volts is None else supply_factor(volts, self.nominal_supply_v, 2.0)

    def static_power_w(self, cores: int, volts: float | None = None) -> float:
        """Static power of `cores` cores at supply V: P_static · (V / V_nom) · exp((V − V_nom) / V_leak)."""
        if volts is None:
            return cores * self.static_power_per_core_w
        ratio = supply_factor(volts, self.nominal_supply_v, 1.0)
        return cores * self.static_power_per_core_w * ratio * math.exp((volts - self.nominal_supply_v)
                                                                       / self.leakage_voltage_v)

    def energy(self, counts: Mapping[str, float], seconds: float, cores: int,
               volts: float | None = None) -> dict[str, Any]:
        """Energy (J) of a run with event `counts` (sim.chip.activity names) lasting `seconds`
        on a chip of `cores` cores at supply `volts`: total, static, dynamic and per event kind."""
        scale = self.dynamic_scale(volts)
        by_event = {name: float(counts[name]) * getattr(self, field) * scale for name, field in EVENT_ENERGIES.items()}
        static = self.static_power_w(cores, volts) * seconds
        dynamic = sum(by_event.values())
        return {"total_j": static + dynamic, "static_j": static, "dynamic_j": dynamic, "by_event_j": by_event,
                "supply_v": self.nominal_supply_v if volts is None else float(volts)}

    def rail_energy(self, counts: Mapping[str, float], seconds: float, cores: int,
                    volts: float | None = None) -> dict[str, float]:
        """`energy` split over the supply rails (RAILS), static power on the core rail."""
        energy = self.energy(counts, seconds, cores, volts)
        rails = {rail: sum(energy["by_event_j"][name] for name in names) for rail, names in RAILS.items()}
        rails["core"] += energy["static_j"]
        return rails


def parse_power(table: Any, origin: str) -> PowerModel:
    """A PowerModel from a spec file's `[power]` table; ValueError naming the field that is
    missing, not a number, negative (or, for voltages, not positive)."""
    if not isinstance(table, dict):
        raise ValueError(f"{origin}: 'power' must be a table with {', '.join(POWER_FIELDS)}")
    unknown = sorted(set(table) - set(POWER_FIELDS))
    if unknown:
        raise ValueError(f"{origin}: unknown field(s) power.{', power.'.join(unknown)}; known: {', '.join(POWER_FIELDS)}")
    values = {}
    for name in POWER_FIELDS:
        if name not in table:
            raise ValueError(f"{origin}: missing field power.{name}")
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{origin}: field power.{name} must be a finite number, got {value!r}")
        positive = name.endswith("_v")
        if value < 0 or (positive and value == 0):
            raise ValueError(f"{origin}: field power.{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
        values[name] = float(value)
    return PowerModel(**values)
