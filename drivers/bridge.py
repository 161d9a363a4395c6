"""A TCP serial bridge for tests and benchmarks: what ser2net or an RFC 2217 server puts
between a host and a board, with the fault injector's byte faults.

`TcpBridge(board_url)` listens on 127.0.0.1 and forwards each client's bytes to the board
at `board_url` (socket://host:port) and back, as a bridge in front of a UART does: in
`piece`-byte pieces (64 every 2 ms at 32 kB/s), at `rate` bytes/s in each direction,
holding at most `buffer` bytes each way (its sockets' kernel buffers are made as small),
so a host that sends faster than the line fills the buffers and waits (TCP back-pressure)
rather than losing bytes. `faults` (`drivers.faults.Faults`: corrupt, drop, duplicate)
apply to the bytes it forwards. `stall()` stops forwarding (the bridge hangs; the
connections stay open), `resume()` goes on.

With `rfc2217_baudrate` the bridge is an RFC 2217 server (telnet com-port control, as
pyserial's `rfc2217://` speaks): it negotiates with pyserial's `PortManager`, reports
that baud rate whatever the client asks (a server in front of a fixed-speed board), and
paces at its line rate (10 bits a byte) unless `rate` says otherwise.
"""
from __future__ import annotations

import select
import socket
import threading
import time

import numpy as np
from serial import rfc2217

from drivers.background import BackgroundLoop
from drivers.endpoints import TcpEndpoint, parse_host_port
from drivers.faults import Faults, mangle

ACCEPT_POLL_S = 0.05  # how often the bridge looks for a client (and at its stop flag)
TICK_S = 0.002         # how often the bridge forwards a piece, at most
BURST_S = 0.02         # line time a late tick may catch up on
SEND_STALL_S = 2.0     # give up on telnet answers the client does not read for this long


class _FixedSpeedPort:
    """The serial side that `PortManager` configures: settings are accepted, the baud rate stays."""

    def __init__(self, baudrate: int):
        self._baudrate = baudrate
        self.bytesize, self.parity, self.stopbits = 8, "N", 1
        self.rts = self.dtr = self.xonxoff = self.rtscts = self.break_condition = False
        self.cts = self.dsr = self.cd = True
        self.ri = False

    @property
    def baudrate(self) -> int:
        return self._baudrate

    @baudrate.setter
    def baudrate(self, _: int) -> None:
        pass   # the board's speed is fixed: the server reports it back

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


class _Direction:
    """Bytes on their way from one socket to the other, paced."""

    def __init__(self, rate: float, piece: int, buffer: int):
        self.rate, self.piece, self.buffer = rate, piece, buffer
        self.held = bytearray()
        self.credit = 0.0
        self.last = time.monotonic()

    def room(self) -> int:
        return self.buffer - len(self.held)

    def due(self, now: float) -> int:
        """How many held bytes the line can carry now: a whole piece's worth of line time
        must have passed (or all that is held, if less)."""
        self.credit = min(self.credit + (now - self.last) * self.rate, max(self.piece, self.rate * BURST_S))
        self.last = now
        if not self.held:
            self.credit = min(self.credit, self.piece)
            return 0
        if self.credit < min(self.piece, len(self.held)):
            return 0
        return min(len(self.held), int(self.credit))


class TcpBridge(BackgroundLoop):
    """A paced, buffered TCP bridge to the board at `board_url`, one client at a time;
    a context manager. `url` is what the host opens."""

    def __init__(self, board_url: str, *, rate: float | None = None, piece: int = 64, buffer: int = 4096,
                 faults: Faults = Faults(), rfc2217_baudrate: int | None = None, seed: int = 0):
        if rate is None and rfc2217_baudrate is None:
            raise ValueError("a bridge needs a rate (bytes/s) or an RFC 2217 baud rate")
        self.board = parse_host_port(board_url.removeprefix("socket://"))
        self.rate = rate if rate is not None else rfc2217_baudrate / 10
        self.piece, self.buffer, self.faults = piece, buffer, faults
        self.rfc2217_baudrate = rfc2217_baudrate
        self.forwarded = [0, 0]           # bytes delivered to the board, to the client
        self._rng = np.random.default_rng(seed)
        self._listener = TcpEndpoint("127.0.0.1", 0)
        self.url = f"{'rfc2217' if rfc2217_baudrate else 'socket'}://127.0.0.1:{self._listener.port}"
        self._forwarding = threading.Event()
        self._forwarding.set()
        super().__init__()

    def stall(self) -> None:
        """Stop forwarding in both directions; the connections stay open."""
        self._forwarding.clear()

    def resume(self) -> None:
        self._forwarding.set()

    # ---- internals ----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            client = self._listener.accept_socket(ACCEPT_POLL_S)
            if client is None:
                continue
            try:
                board = socket.create_connection(self.board, timeout=5)
            except OSError:
                client.close()
                continue
            try:
                self._pump(client, board)
            except OSError:
                pass
            finally:
                client.close()
                board.close()

    def _close(self) -> None:
        self._listener.close()

    def _small_buffers(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.buffer)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.buffer)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)

    def _pump(self, client: socket.socket, board: socket.socket) -> None:
        """Forward between `client` and `board` until either closes or the bridge stops."""
        for sock in (client, board):
            self._small_buffers(sock)
        telnet = _Telnet(client, self.rfc2217_baudrate) if self.rfc2217_baudrate else None
        up, down = (_Direction(self.rate, self.piece, self.buffer) for _ in range(2))
        lanes = ((client, board, up, 0), (board, client, down, 1))
        while not self._stop.is_set():
            forwarding = self._forwarding.is_set()
            readable = [src for src, _, lane, _ in lanes if forwarding and lane.room() > 0]
            ready = select.select(readable, [], [], TICK_S)[0] if readable else time.sleep(TICK_S) or []
            for src, _, lane, _ in lanes:
                if src in ready:
                    data = src.recv(lane.room())
                    if not data:
                        return
                    if src is client:
                        lane.held += mangle(telnet.from_client(data) if telnet else data, self.faults, self._rng)
                    else:
                        data = mangle(data, self.faults, self._rng)
                        lane.held += telnet.to_client(data) if telnet else data
            if not self._forwarding.is_set():   # stalled (maybe while this pass waited for bytes)
                continue
            now = time.monotonic()
            for _, dst, lane, index in lanes:
                count = lane.due(now)
                if count:
                    sent = _send_some(dst, bytes(lane.held[:count]))
                    del lane.held[:sent]
                    lane.credit -= sent
                    self.forwarded[index] += sent


class _Telnet:
    """The RFC 2217 server side of a client connection (negotiation answered at once)."""

    def __init__(self, client: socket.socket, baudrate: int):
        self._client = client
        self._manager = rfc2217.PortManager(_FixedSpeedPort(baudrate), self)

    def write(self, data: bytes) -> None:   # PortManager's connection: negotiation answers
        _send_all(self._client, data)

    def from_client(self, data: bytes) -> bytes:
        return b"".join(self._manager.filter(data))

    def to_client(self, data: bytes) -> bytes:
        return b"".join(self._manager.escape(data))


def _send_some(sock: socket.socket, data: bytes) -> int:
    try:
        return sock.send(data)
    except BlockingIOError:
        return 0


def _send_all(sock: socket.socket, data: bytes) -> None:
    """Send `data` on a non-blocking socket; what the peer does not take within SEND_STALL_S is dropped."""
    view, give_up = memoryview(data), time.monotonic() + SEND_STALL_S
    while view and time.monotonic() < give_up:
        select.select([], [sock], [], SEND_STALL_S)
        view = view[_send_some(sock, view):]
