"""Host side of the protocol: numbered requests, retries, timeouts, chunked transfers.

Stop-and-wait: each request is resent with the same sequence number until its answer
arrives — after `retry_interval`, or at once when the board NAKs a damaged frame or a
damaged frame reaches the host. The board answers a repeated request from its cache, so
nothing runs twice. A request that gets no answer within `timeout` raises LinkTimeout.
Chunk size adapts (halved after a retry, doubled after a clean exchange), so transfers
get through a noisy line without tuning.
"""
from __future__ import annotations

import os
import time
import zlib
from typing import Callable

from drivers.chip import ChipError, NotLoadedError
from drivers.framing import MAX_PAYLOAD, ProtocolError
from drivers.link import Link
from drivers.wire import (CHUNK_HEADER, HEADER, SEQ_MODULUS, ErrorBody, ErrorCode, Fetch, Message, MsgType, Stream,
                          StreamRef, decode_message, encode_message, pack_chunk, unpack_chunk, unpack_u32)

CHUNK_MIN = 32
CHUNK_MAX = 32768
CHUNK_START = 1024
CHUNK_TRIES = 3         # sends of one chunk size before it is halved
assert CHUNK_MAX + HEADER.size + CHUNK_HEADER.size <= MAX_PAYLOAD


class LinkTimeout(ChipError, TimeoutError):
    """The board did not answer within the configured time."""


class BoardResetError(ChipError):
    """The board rebooted (new boot id): whatever it held, configuration included, is gone."""

    def __init__(self, message: str, new_boot: int):
        super().__init__(message)
        self.new_boot = new_boot


class Session:
    """Request/response with one board over a Link."""

    def __init__(self, link: Link, *, timeout: float, retry_interval: float):
        self.link = link
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.boot = 0                      # 0 until the handshake
        self.retransmits = 0
        self._seq = int.from_bytes(os.urandom(2), "little")
        self._chunk = CHUNK_START
        self._clean = True

    def request(self, kind: MsgType, body: bytes = b"", *,
                expect: MsgType | tuple[MsgType, ...] = MsgType.ACK) -> Message:
        """Send `kind` until its answer arrives; ChipError subclasses for refusals,
        LinkTimeout after the session's `timeout` without an answer."""
        reply = self._exchange(kind, body, expect, time.monotonic() + self.timeout, self.timeout)
        assert reply is not None
        return reply

    def _exchange(self, kind: MsgType, body: bytes, expect: MsgType | tuple[MsgType, ...], deadline: float,
                  limit: float, max_attempts: int | None = None) -> Message | None:
        """One request under one sequence number: its checked answer, or None after
        `max_attempts` sends without one; LinkTimeout at `deadline`."""
        self._seq = (self._seq + 1) % SEQ_MODULUS
        payload = encode_message(Message(kind, self._seq, self.boot, body))
        attempts = 0
        while time.monotonic() < deadline or attempts == 0:
            if attempts == max_attempts:
                return None
            self.link.send(payload)
            attempts += 1
            reply = self._await(self._seq, min(deadline, time.monotonic() + self.retry_interval))
            if reply is not None:
                self.retransmits += attempts - 1
                self._clean = attempts == 1
                return self._check(kind, reply, expect)
        raise LinkTimeout(f"{self.link.name}: no answer to {kind.name} within {limit:g} s "
                          f"({attempts} attempt(s)); is the board connected and powered?")

    def _chunk_request(self, kind: MsgType, build: Callable[[int], bytes], expect: MsgType) -> Message:
        """A request carrying (or asking for) a chunk of the current size. A size that does
        not get through in CHUNK_TRIES sends is halved and asked for anew (chunk requests
        are idempotent); clean exchanges double it."""
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._exchange(kind, build(self._chunk), expect, deadline, self.timeout, CHUNK_TRIES)
            if reply is not None:
                if self._clean:
                    self._chunk = min(CHUNK_MAX, self._chunk * 2)
                return reply
            self.retransmits += CHUNK_TRIES
            self._chunk = max(CHUNK_MIN, self._chunk // 2)

    def _await(self, seq: int, until: float) -> Message | None:
        """The answer to `seq`, or None when it is time to resend."""
        while True:
            damaged, nak = self.link.damaged, False
            for payload in self.link.receive(until):
                try:
                    message = decode_message(payload)
                except ProtocolError:
                    continue
                if self.boot and (message.type is MsgType.BOOT or message.boot != self.boot):
                    self.boot_changed(message.boot)
                if message.type is MsgType.NAK:
                    nak = True
                elif message.seq == seq and message.type is not MsgType.BOOT:
                    return message
            if nak or self.link.damaged != damaged or time.monotonic() >= until:
                return None

    def boot_changed(self, new_boot: int) -> None:
        old, self.boot = self.boot, 0
        raise BoardResetError(f"{self.link.name}: the board reset (boot id {old:#010x} -> {new_boot:#010x}) "
                              f"and lost its configuration", new_boot)

    def _check(self, kind: MsgType, reply: Message, expect: MsgType | tuple[MsgType, ...]) -> Message:
        if reply.type is MsgType.ERROR:
            error = ErrorBody.unpack(reply.body)
            text = self.download(Stream.ERROR, error.message).decode(errors="replace")
            message = f"{self.link.name}: board refused {kind.name}: {text}"
            if error.code is ErrorCode.NOT_LOADED:
                raise NotLoadedError(message)
            if error.code is ErrorCode.STALE_SESSION:
                self.boot_changed(reply.boot)
            raise ChipError(message)
        expected = expect if isinstance(expect, tuple) else (expect,)
        if reply.type not in expected:
            raise ProtocolError(f"{self.link.name}: board answered {kind.name} with {reply.type.name}, "
                                f"expected {' or '.join(t.name for t in expected)}")
        return reply

    # ---- chunked transfers ------------------------------------------------------------
    def upload(self, kind: MsgType, data: bytes) -> None:
        """Send `data` in chunks; the board acknowledges the bytes it holds in order."""
        offset = 0
        while offset < len(data):
            reply = self._chunk_request(kind, lambda size: pack_chunk(offset, data[offset:offset + size]), MsgType.ACK)
            held = unpack_u32(reply.body, "ACK")
            if held > len(data):
                raise ProtocolError(f"{self.link.name}: board claims {held} bytes of a {len(data)}-byte upload")
            offset = held

    def download(self, stream: Stream, ref: StreamRef) -> bytes:
        """Fetch `stream` (`ref.size` bytes) and check its CRC-32."""
        data = bytearray()
        while len(data) < ref.size:
            reply = self._chunk_request(
                MsgType.FETCH, lambda size: Fetch(stream, len(data), min(size, ref.size - len(data))).pack(),
                MsgType.RESULT_DATA)
            offset, chunk = unpack_chunk(reply.body)
            if offset != len(data) or not 0 < len(chunk) <= ref.size - len(data):
                raise ProtocolError(f"{self.link.name}: board sent {len(chunk)} bytes at offset {offset} "
                                    f"of the {stream.name} stream while {len(data)} of {ref.size} are held")
            data += chunk
        if zlib.crc32(data) != ref.checksum:
            raise ProtocolError(f"{self.link.name}: {stream.name} stream checksum mismatch")
        return bytes(data)
