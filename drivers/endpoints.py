"""Where a virtual board listens: a pseudo-terminal or a TCP port.

An endpoint hands out streams (`accept`); a stream reads what has arrived and writes
whole buffers. A pty has one endless stream; a TCP listener one per client connection.
"""
from __future__ import annotations

import os
import select
import socket
import time
import tty
from typing import Protocol

WRITE_STALL_S = 2.0   # give up on a write the peer does not drain for this long


class ByteStream(Protocol):
    def read(self, timeout: float) -> bytes: ...     # b"" on timeout; EOFError when the peer left
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class Endpoint(Protocol):
    url: str
    def accept(self, timeout: float) -> ByteStream | None: ...
    def close(self) -> None: ...


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


class _SocketStream:
    def __init__(self, conn: socket.socket):
        self.conn = conn
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(WRITE_STALL_S)

    def read(self, timeout: float) -> bytes:
        if not select.select([self.conn], [], [], timeout)[0]:
            return b""
        try:
            data = self.conn.recv(65536)
        except ConnectionResetError:
            raise EOFError("client reset the connection") from None
        if not data:
            raise EOFError("client closed the connection")
        return data

    def write(self, data: bytes) -> None:
        try:
            self.conn.sendall(data)
        except socket.timeout:
            pass

    def close(self) -> None:
        self.conn.close()


class TcpEndpoint:
    """A TCP listener on `host:port` (port 0 picks a free one); `url` is its socket:// URL."""

    def __init__(self, host: str, port: int):
        self._sock = socket.create_server((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = f"socket://{self.host}:{self.port}"

    def accept(self, timeout: float) -> ByteStream | None:
        conn = self.accept_socket(timeout)
        return None if conn is None else _SocketStream(conn)

    def accept_socket(self, timeout: float) -> socket.socket | None:
        """The next client's connection as a plain socket (None when none came within `timeout`)."""
        if not select.select([self._sock], [], [], timeout)[0]:
            return None
        return self._sock.accept()[0]

    def close(self) -> None:
        self._sock.close()


def parse_host_port(text: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port); ValueError naming the problem."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:5555; port 0 picks a free one)")
    return host.strip("[]"), int(port)
