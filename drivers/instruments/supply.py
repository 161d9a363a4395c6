"""A programmable DC supply (SCPI): voltage, current limit, output, measured current."""
from __future__ import annotations

from drivers.instruments.scpi import Reading, ScpiInstrument


class PowerSupply(ScpiInstrument):
    kind = "supply"

    def set_voltage(self, volts: float) -> None:
        self.command(f"VOLT {volts:.4f}")

    def voltage(self) -> Reading:
        """The voltage setpoint."""
        return Reading("voltage setpoint", self.query_float("VOLT?"), "V")

    def set_current_limit(self, amps: float) -> None:
        self.command(f"CURR {amps:.4f}")

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
