"""A digital multimeter (SCPI MEAS queries)."""
from __future__ import annotations

from drivers.instruments.scpi import Reading, ScpiInstrument


class Multimeter(ScpiInstrument):
    kind = "multimeter"

    def measure_voltage_dc(self) -> Reading:
        return Reading("DC voltage", self.query_float("MEAS:VOLT:DC?"), "V")

    def measure_current_dc(self) -> Reading:
        return Reading("DC current", self.query_float("MEAS:CURR:DC?"), "A")

    def measure_resistance(self) -> Reading:
        return Reading("resistance", self.query_float("MEAS:RES?"), "Ohm")
