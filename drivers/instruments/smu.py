"""A source-measure unit (SCPI of a Keithley 2450): sources the chip supply and samples its
current into a reading buffer over a triggered window.

A window: `arm(samples)` clears the buffer, loads the trigger model (a simple loop of
`samples` readings) and starts it; `fetch()` waits for it to finish (*OPC?) and reads the
buffer's count and mean current. An SMU that does not take these commands cannot measure
energy: `arm` and `fetch` then raise InstrumentError naming it and the command, never a
reading of 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, TypeVar

from drivers.instruments.scpi import InstrumentError, Reading, ScpiInstrument

BUFFER = '"defbuffer1"'
_T = TypeVar("_T")


@dataclass(frozen=True)
class Window:
    """One triggered window of buffered current readings."""

    samples: int
    mean_a: float


class SourceMeter(ScpiInstrument):
    kind = "SMU"
    _armed: int | None = None   # readings of the window armed and not yet fetched

    def source_voltage(self, volts: float, current_limit: float, nplc: float = 1.0) -> None:
        """Source `volts` with a current limit, measure current at `nplc` line cycles, output on."""
        for quantity, value, unit in (("voltage", volts, "V"), ("current limit", current_limit, "A"),
                                      ("integration time", nplc, "NPLC")):
            if not math.isfinite(value) or value <= 0:
                raise InstrumentError(f"{self.kind} {self.address}: {quantity} {value:g} {unit} refused: it must be a "
                                      f"finite number > 0")
        for command in (":SOUR:FUNC VOLT", f":SOUR:VOLT {volts:.4f}", f":SOUR:VOLT:ILIM {current_limit:.6f}",
                        ':SENS:FUNC "CURR"', f":SENS:CURR:NPLC {nplc:.3f}", ":OUTP 1"):
            self.command(command)

    def voltage(self) -> Reading:
        return Reading("voltage setpoint", self.query_float(":SOUR:VOLT?"), "V")

    def arm(self, samples: int) -> None:
        """Start a window of `samples` buffered current readings."""
        if samples < 1:
            raise InstrumentError(f"{self.kind} {self.address}: a window needs at least one reading, got {samples}")
        self._armed = samples
        for command in (f":TRAC:CLE {BUFFER}", f':TRIG:LOAD "SimpleLoop", {samples:d}', ":INIT"):
            self._buffered(lambda c=command: self.command(c), command)

    def fetch(self) -> Window:
        """Wait for the armed window and read its count and mean current."""
        armed = self._armed
        if armed is None:
            raise InstrumentError(f"{self.kind} {self.address}: fetch without an armed window")
        self._armed = None
        self._buffered(lambda: self.query("*OPC?"), "*OPC?")
        count = self._buffered(lambda: self.query_float(f":TRAC:ACT? {BUFFER}"), f":TRAC:ACT? {BUFFER}")
        if int(count) != armed:
            raise InstrumentError(f"{self.kind} {self.address}: the window buffered {int(count)} readings, "
                                  f"{armed} were armed")
        mean = self._buffered(lambda: self.query_float(f":TRAC:STAT:AVER? {BUFFER}"), f":TRAC:STAT:AVER? {BUFFER}")
        return Window(armed, mean)

    def set_output(self, on: bool) -> None:
        self.command(f":OUTP {int(on)}")

    def _buffered(self, operation: Callable[[], _T], command: str) -> _T:
        """`operation`, its InstrumentError restated as this SMU lacking buffered sampling."""
        try:
            return operation()
        except InstrumentError as exc:
            raise type(exc)(f"{self.kind} {self.address} cannot sample current into a buffer over a triggered "
                            f"window, which energy measurement needs ({command!r}): {exc}") from None
