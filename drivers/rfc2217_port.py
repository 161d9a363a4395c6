"""`rfc2217://` ports that take their baud rate from the server.

pyserial's RFC 2217 client imposes its baud rate on the server's serial line and fails
when the server reports another one. A board behind a server runs at the server's
speed, so `Rfc2217Port` asks (SET-BAUDRATE 0, RFC 2217's query) unless told a rate, and
keeps whatever the server reports (`server_baudrate`; None if it reports nothing usable).
pyserial's client has no write timeout; the host's writes are bounded by its window.
"""
from __future__ import annotations

import struct

from serial import rfc2217


class _ReportedBaudrate(rfc2217.TelnetSubnegotiation):
    """The SET-BAUDRATE subnegotiation, taking the server's answer as the rate in use."""

    def __init__(self, connection: rfc2217.Serial, ask: bool):
        super().__init__(connection, "baudrate", rfc2217.SET_BAUDRATE, rfc2217.SERVER_SET_BAUDRATE)
        self.ask = ask
        self.reported: int | None = None

    def set(self, value: bytes) -> None:
        super().set(struct.pack("!I", 0) if self.ask else value)

    def check_answer(self, suboption: bytes) -> None:
        if len(suboption) >= 4:
            self.reported = struct.unpack("!I", suboption[:4])[0] or None
        self.state = rfc2217.ACTIVE


class Rfc2217Port(rfc2217.Serial):
    """An open rfc2217:// port; `baudrate` None asks the server for its rate."""

    def __init__(self, url: str, *, baudrate: int | None, timeout: float):
        self._ask_baudrate = baudrate is None
        super().__init__(None, baudrate=baudrate or 115200, timeout=timeout)
        self.port = url
        self.open()

    def _reconfigure_port(self) -> None:
        settings = self._rfc2217_port_settings
        if settings is not None and not isinstance(settings["baudrate"], _ReportedBaudrate):
            settings["baudrate"] = self._rfc2217_options["baudrate"] = _ReportedBaudrate(self, self._ask_baudrate)
        super()._reconfigure_port()

    @property
    def server_baudrate(self) -> int | None:
        """The baud rate the server reported for its serial line."""
        return self._rfc2217_port_settings["baudrate"].reported
