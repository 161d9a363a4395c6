"""A virtual board's endpoint on a pseudo-terminal: one endless stream, opened as a serial port."""
from __future__ import annotations

import os
import select
import time
import tty

from drivers.endpoint_protocol import WRITE_STALL_S, ByteStream


class _FdStream:
    """The master side of a pty. Writes that the host does not drain are dropped after
    WRITE_STALL_S (the host retries), so a vanished host cannot wedge the board."""

    def __init__(self, fd: int):
        self.fd = fd
        self.in_use = False
        os.set_blocking(fd, False)

    def read(self, timeout: float) -> bytes:
        if not select.select([self.fd], [], [], timeout)[0]:
            return b""
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        view, give_up = memoryview(data), time.monotonic() + WRITE_STALL_S
        while view and time.monotonic() < give_up:
            if select.select([], [self.fd], [], WRITE_STALL_S)[1]:
                try:
                    view = view[os.write(self.fd, view):]
                except BlockingIOError:
                    pass

    def close(self) -> None:
        """The pty outlives its clients (`PtyEndpoint.close` releases it): only hand it back."""
        self.in_use = False


class PtyEndpoint:
    """A pseudo-terminal in raw mode; clients open `path` (e.g. /dev/pts/3) as a serial port."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)         # no echo, no line editing: bytes pass unchanged
        self.path = os.ttyname(self._slave)
        self.url = self.path
        self._stream = _FdStream(self._master)

    def accept(self, timeout: float) -> ByteStream | None:
        """The one stream of the pty, unless it is being served (the server keeps the slave
        open, so reads never see EIO)."""
        if self._stream.in_use:
            time.sleep(timeout)
            return None
        self._stream.in_use = True
        return self._stream

    def close(self) -> None:
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
