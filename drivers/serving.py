"""Serve a `BoardServer` on an endpoint (pty or TCP), one client at a time.

The client being served gets every answer; a client that connects meanwhile is told
the board is busy (ERROR BOARD_BUSY) and disconnected; a client silent for
`idle_timeout` is dropped so it cannot hold the board forever. Nothing a client sends
stops the server: it goes on to the next one.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from drivers.background import BackgroundLoop
from drivers.board_server import BoardServer
from drivers.endpoints import ByteStream, Endpoint
from drivers.framing import FrameDecoder, encode_frame

POLL_S = 0.05
DEFAULT_IDLE_TIMEOUT_S = 300.0
BUSY_LINGER_S = 2.0     # how long a refused client is answered 'busy' before it is disconnected

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def serve(server: BoardServer, endpoint: Endpoint, stop: threading.Event, *,
          idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S, log: Log = _quiet) -> None:
    """Answer requests arriving on `endpoint` until `stop` is set; clients may come and go."""
    while not stop.is_set():
        stream = endpoint.accept(POLL_S)
        if stream is None:
            continue
        try:
            _serve_client(server, endpoint, stream, stop, idle_timeout, log)
        except (EOFError, OSError):
            pass   # the client went away; wait for the next one
        except Exception as exc:  # noqa: BLE001 - one client's trouble never ends the server
            log(f"client dropped after an internal error: {type(exc).__name__}: {exc}")
        finally:
            stream.close()


def _serve_client(server: BoardServer, endpoint: Endpoint, stream: ByteStream, stop: threading.Event,
                  idle_timeout: float, log: Log) -> None:
    decoder = FrameDecoder()
    last_heard = time.monotonic()
    while not stop.is_set():
        newcomer = endpoint.accept(0)
        if newcomer is not None:
            threading.Thread(target=_refuse, args=(server, newcomer), daemon=True).start()
        out = [encode_frame(announcement) for announcement in server.pending_announcements()]
        data = stream.read(POLL_S)
        if data:
            last_heard = time.monotonic()
            damaged = decoder.errors
            out += [encode_frame(answer) for payload in decoder.feed(data) for answer in server.handle(payload)]
            if decoder.errors != damaged:
                out.append(encode_frame(server.nak()))
        elif time.monotonic() - last_heard > idle_timeout:
            log(f"dropped a client silent for {idle_timeout:g} s")
            return
        if out:
            stream.write(b"".join(out))


def _refuse(server: BoardServer, stream: ByteStream) -> None:
    """Answer a second client's requests with BOARD_BUSY for a while, then disconnect it."""
    decoder = FrameDecoder()
    give_up = time.monotonic() + BUSY_LINGER_S
    try:
        while time.monotonic() < give_up:
            answers = [server.busy(payload) for payload in decoder.feed(stream.read(POLL_S))]
            stream.write(b"".join(encode_frame(a) for a in answers if a is not None))
    except (EOFError, OSError):
        pass
    finally:
        stream.close()


class BackgroundServer(BackgroundLoop):
    """`serve` on a daemon thread, as a context manager (tests, benchmarks)."""

    def __init__(self, server: BoardServer, endpoint: Endpoint, *, idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S):
        self.server, self.endpoint, self.url = server, endpoint, endpoint.url
        self.idle_timeout = idle_timeout
        super().__init__()

    def _run(self) -> None:
        serve(self.server, self.endpoint, self._stop, idle_timeout=self.idle_timeout)

    def _close(self) -> None:
        self.endpoint.close()
