"""A fault-injecting port for tests: wraps a pyserial-style port on the host side.

Per byte, in both directions: `corrupt` (xor with a random non-zero byte), `drop`,
`duplicate`. Per read: `delay` (the probability that what arrived is held back for
`delay_s`, order preserved). `rate` limits the line to that many bytes/s in each
direction (115200 baud, 8N1: 11520), like a UART: writes return at once and reach the
board as the line would carry them. Scripted events: `arm_reset` calls a hook (e.g. a
virtual board's `reboot`) when the host makes its n-th write from now; `arm_vanish`
makes the port fail like an unplugged USB device; `kill` turns the link dead (writes
vanish, nothing arrives). Deterministic for a given seed.

A TCP serial bridge (ser2net, an RFC 2217 server) with its pacing and small buffers is
`drivers.bridge.TcpBridge`, which applies the same faults.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import serial

from drivers.link import POLL_S, bytes_waiting


@dataclass(frozen=True)
class Faults:
    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    delay_s: float = 0.02
    rate: float | None = None    # bytes/s each way; None: as fast as the inner port


class FaultyPort:
    """`inner` with faults applied; exposes read(n), write, in_waiting, close."""

    def __init__(self, inner: Any, faults: Faults = Faults(), seed: int = 0):
        self.inner = inner
        self.faults = faults
        self.writes = 0
        self._rng = np.random.default_rng(seed)
        self._inbox = bytearray()
        self._held: list[tuple[float, bytes]] = []     # (due, bytes) on their way to the host
        self._outbox: list[tuple[float, bytes]] = []   # (due, bytes) on their way to the board
        self._dead = False
        self._vanish_after: int | None = None
        self._reset: tuple[int, Callable[[], None]] | None = None

    # ---- scripted faults --------------------------------------------------------------
    def arm_reset(self, hook: Callable[[], None], after_writes: int = 0) -> None:
        """Call `hook` just before the (after_writes + 1)-th write from now reaches the board."""
        self._reset = (self.writes + after_writes, hook)

    def arm_vanish(self, after_writes: int = 0) -> None:
        self._vanish_after = self.writes + after_writes

    def kill(self) -> None:
        self._dead = True

    # ---- pyserial surface -------------------------------------------------------------
    def write(self, data: bytes) -> int:
        if self._vanish_after is not None and self.writes >= self._vanish_after:
            raise serial.SerialException("[Errno 5] Input/output error (device disconnected)")
        if self._reset is not None and self.writes >= self._reset[0]:
            hook, self._reset = self._reset[1], None
            hook()
        self.writes += 1
        if not self._dead:
            self._outbox.append((self._line_due(self._outbox, time.monotonic(), len(data)), self._mangle(data)))
            self._forward()
        return len(data)

    @property
    def in_waiting(self) -> int:
        self._check_vanished()
        self._forward()
        self._pull(block=False)
        return len(self._inbox)

    def read(self, size: int = 1) -> bytes:
        self._check_vanished()
        self._forward()
        if not self._inbox and (self._held or self._outbox):   # something is due soon: wait for it, not the port
            due = min(queue[0][0] for queue in (self._held, self._outbox) if queue)
            time.sleep(min(max(0.0, due - time.monotonic()), POLL_S))
            self._forward()
            self._pull(block=False)
        else:
            self._pull(block=not self._inbox)
        out = bytes(self._inbox[:size])
        del self._inbox[:size]
        return out

    def reset_input_buffer(self) -> None:
        self.inner.reset_input_buffer()
        self._inbox.clear()
        self._held.clear()

    def close(self) -> None:
        self.inner.close()

    # ---- internals --------------------------------------------------------------------
    def _check_vanished(self) -> None:
        if self._vanish_after is not None and self.writes >= self._vanish_after:
            raise serial.SerialException("[Errno 5] Input/output error (device disconnected)")

    def _pull(self, block: bool) -> None:
        """Move arrived bytes through the faults into the inbox; `block` waits up to the
        inner port's timeout for the first byte."""
        waiting = bytes_waiting(self.inner)
        if waiting or block:
            data = self.inner.read(max(1, waiting))
            if data and not self._dead:
                now = time.monotonic()
                delayed = now + (self.faults.delay_s if self._rng.random() < self.faults.delay else 0.0)
                self._held.append((self._line_due(self._held, delayed, len(data)), self._mangle(data)))
        now = time.monotonic()
        while self._held and self._held[0][0] <= now:
            self._inbox += self._held.pop(0)[1]

    def _forward(self) -> None:
        """Hand the board what the line has carried by now."""
        now = time.monotonic()
        while self._outbox and self._outbox[0][0] <= now:
            self.inner.write(self._outbox.pop(0)[1])

    def _line_due(self, queue: list[tuple[float, bytes]], ready: float, size: int) -> float:
        """When `size` bytes ready at `ready` are through the line, behind what `queue` holds."""
        start = max(ready, queue[-1][0]) if queue else ready
        return start + (size / self.faults.rate if self.faults.rate else 0.0)

    def _mangle(self, data: bytes) -> bytes:
        return mangle(data, self.faults, self._rng)


def mangle(data: bytes, faults: Faults, rng: np.random.Generator) -> bytes:
    """`data` with each byte dropped, duplicated or corrupted as `faults` says."""
    if not (faults.corrupt or faults.drop or faults.duplicate):
        return data
    raw = np.frombuffer(data, np.uint8)
    copies = (rng.random(raw.size) >= faults.drop).astype(np.int64)
    copies += (rng.random(raw.size) < faults.duplicate) & (copies > 0)
    out = np.repeat(raw, copies)
    hit = rng.random(out.size) < faults.corrupt
    out[hit] ^= rng.integers(1, 256, int(hit.sum()), dtype=np.uint8)
    return out.tobytes()
