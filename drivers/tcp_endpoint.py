"""A virtual board's endpoint on a TCP port: one stream per client connection."""
from __future__ import annotations

import select
import socket

from drivers.endpoint_protocol import WRITE_STALL_S, ByteStream


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
