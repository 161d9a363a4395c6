"""A programmable DC supply (SCPI): voltage, current limit, output, measured current.

Setpoints must be finite and non-negative (checked here, never sent otherwise); the
supply itself refuses values above its own maximum, and that refusal is raised too.
"""
from __future__ import annotations

import math

from drivers.instruments.scpi import InstrumentError, Reading, ScpiInstrument


class PowerSupply(ScpiInstrument):
    kind = "supply"

    def set_voltage(self, volts: float) -> None:
        self.command(f"VOLT {self._setpoint('voltage', volts, 'V'):.4f}")

    def voltage(self) -> Reading:
        """The voltage setpoint."""
        return Reading("voltage setpoint", self.query_float("VOLT?"), "V")

    def set_current_limit(self, amps: float) -> None:
        self.command(f"CURR {self._setpoint('current limit', amps, 'A'):.4f}")

    def current_limit(self) -> Reading:
        return Reading("current limit", self.query_float("CURR?"), "A")

    def set_output(self, on: bool) -> None:
        self.command(f"OUTP {int(on)}")

    def output(self) -> bool:
        return self.query("OUTP?").strip() == "1"

    def measure_voltage(self) -> Reading:
        return Reading("voltage", self.query_float("MEAS:VOLT?"), "V")

    def measure_current(self) -> Reading:
        return Reading("current", self.query_float("MEAS:CURR?"), "A")

    def _setpoint(self, quantity: str, value: float, unit: str) -> float:
        """`value` if it is a finite number >= 0, else InstrumentError naming the limit."""
        if not math.isfinite(value) or value < 0:
            raise InstrumentError(f"{self.kind} {self.address}: {quantity} {value:g} {unit} refused: "
                                  f"it must be a finite number >= 0 {unit} (and within the supply's range)")
        return value
