"""Frames over a pyserial-style port: whole frames out, blocks in, never byte by byte."""
from __future__ import annotations

import fcntl
import struct
import termios
import time
from typing import Any

import serial

from drivers.errors import LinkError
from drivers.framing import FrameDecoder, encode_frame

POLL_S = 0.02   # the port's read timeout: how long one read waits for a first byte


def bytes_waiting(port: Any) -> int:
    """Bytes readable now. pyserial's socket:// `in_waiting` is only a 0/1 readiness
    flag, so where the port has a file descriptor ask the kernel (FIONREAD) instead."""
    try:
        fd = port.fileno()
    except (AttributeError, OSError, ValueError):
        return port.in_waiting
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


class Link:
    """Sends payloads as frames and returns the intact payloads that arrive.

    `port` is anything with pyserial's read(n) / write / in_waiting / close, opened with
    a short read timeout (POLL_S); `damaged` counts frames dropped by the decoder, `junk`
    the bytes that arrived and are not part of an intact frame.
    """

    def __init__(self, port: Any, name: str):
        self.port = port
        self.name = name
        self._decoder = FrameDecoder()
        self._outgoing = bytearray()

    @property
    def damaged(self) -> int:
        return self._decoder.errors

    @property
    def junk(self) -> int:
        return self._decoder.unframed

    def send(self, payload: bytes, *, copies: int = 1, flush: bool = True) -> int:
        """Send `payload` as `copies` identical frames; returns the size of one on the line.
        With `flush=False` the frames wait for the next `flush`, so that many go in one write."""
        frame = encode_frame(payload)
        self._outgoing += frame * copies
        if flush:
            self.flush()
        return len(frame)

    def flush(self) -> None:
        frames, self._outgoing = bytes(self._outgoing), bytearray()
        if not frames:
            return
        try:
            self.port.write(frames)
        except serial.SerialTimeoutException:
            raise LinkError(f"{self.name}: write timed out (board not reading?)") from None
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"{self.name}: port failed or vanished while writing ({exc})") from None

    def receive(self, deadline: float, marked: bool = False) -> list[bytes | None]:
        """Payloads that arrive before `deadline` (monotonic time). Returns as soon as
        something arrived: intact payloads, or a damaged frame (see `damaged`; with
        `marked`, a None in the list where it was)."""
        damaged = self._decoder.errors
        while True:
            try:
                data = self.port.read(max(1, bytes_waiting(self.port)))
            except (serial.SerialException, OSError, ValueError) as exc:
                raise LinkError(f"{self.name}: port failed or vanished while reading ({exc})") from None
            payloads = self._decoder.feed_marked(data) if data else []
            if payloads or self._decoder.errors != damaged or time.monotonic() >= deadline:
                return payloads if marked else [payload for payload in payloads if payload is not None]

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
