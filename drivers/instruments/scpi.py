"""SCPI instruments over VISA: readings with units, clear errors and timeouts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import pyvisa

DEFAULT_TIMEOUT_S = 2.0

_Instrument = TypeVar("_Instrument", bound="ScpiInstrument")


class InstrumentError(RuntimeError):
    """An instrument refused a command, answered nonsense, or cannot be reached."""


class InstrumentTimeout(InstrumentError, TimeoutError):
    """An instrument did not answer within its timeout."""


@dataclass(frozen=True)
class Reading:
    """One measured or set value with its unit."""

    quantity: str   # "voltage", "current", ...
    value: float
    unit: str       # SI symbol: "V", "A", "Ohm"

    def __str__(self) -> str:
        return f"{self.quantity} {self.value:.6g} {self.unit}"


class ScpiInstrument:
    """A VISA resource spoken to in SCPI. Every setting is followed by a check of the
    error queue (SYST:ERR?), so a refused command raises instead of passing silently."""

    kind = "instrument"

    def __init__(self, resource: Any):
        self.resource = resource
        self.address = resource.resource_name

    @classmethod
    def open(cls: type[_Instrument], manager: pyvisa.ResourceManager, address: str, *,
             timeout: float = DEFAULT_TIMEOUT_S) -> _Instrument:
        try:
            resource = manager.open_resource(address, read_termination="\n", write_termination="\n",
                                             timeout=int(timeout * 1000))
        except pyvisa.Error as exc:
            raise InstrumentError(f"{cls.kind} {address}: cannot open ({exc})") from None
        return cls(resource)

    def identify(self) -> str:
        return self.query("*IDN?")

    def query(self, command: str) -> str:
        try:
            return self.resource.query(command).strip()
        except pyvisa.VisaIOError as exc:
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise InstrumentTimeout(f"{self.kind} {self.address}: no answer to {command!r} within "
                                        f"{self.resource.timeout / 1000:g} s (switched off or disconnected?)") from None
            raise InstrumentError(f"{self.kind} {self.address}: {command!r} failed ({exc})") from None

    def query_float(self, command: str) -> float:
        text = self.query(command)
        try:
            return float(text)
        except ValueError:
            raise InstrumentError(f"{self.kind} {self.address}: {command!r} answered {text!r}, not a number") from None

    def command(self, command: str) -> None:
        """Send a setting and raise InstrumentError if the instrument logged an error for it."""
        try:
            self.resource.write(command)
        except pyvisa.VisaIOError as exc:
            raise InstrumentError(f"{self.kind} {self.address}: {command!r} could not be sent ({exc})") from None
        error = self.query("SYST:ERR?")
        code = error.split(",", 1)[0].strip()
        if code.lstrip("+-").isdigit() and int(code) != 0:
            raise InstrumentError(f"{self.kind} {self.address} rejected {command!r}: {error}")

    def close(self) -> None:
        self.resource.close()

    def __enter__(self: _Instrument) -> _Instrument:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
