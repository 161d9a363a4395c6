"""Frames on the byte stream: COBS-encoded payload + CRC-32, delimited by zero bytes.

A frame on the wire is ``00 | COBS(payload | crc32(payload) as 4 bytes LE) | 00``. The
leading zero ends any garbage the receiver holds, so a frame is decodable even after
line noise; anything between two zeros that fails COBS or CRC is counted and dropped.
"""
from __future__ import annotations

import zlib

from drivers.errors import FramingError, ProtocolError

DELIMITER = b"\x00"
MAX_PAYLOAD = 32768 + 256                # bytes per frame payload, header included
CRC_SIZE = 4
MAX_ENCODED = MAX_PAYLOAD + CRC_SIZE + (MAX_PAYLOAD + CRC_SIZE) // 254 + 2


def cobs_encode(data: bytes) -> bytes:
    """Consistent-overhead byte stuffing: the result holds no zero byte."""
    out = bytearray()
    for block in bytes(data).split(DELIMITER):
        while len(block) >= 254:
            out.append(255)
            out += block[:254]
            block = block[254:]
        out.append(len(block) + 1)
        out += block
    return bytes(out)


def cobs_decode(encoded: bytes) -> bytes:
    """Inverse of `cobs_encode`; FramingError on anything it could not have produced."""
    if DELIMITER in encoded:
        raise FramingError("zero byte inside a COBS block")
    out = bytearray()
    i, n = 0, len(encoded)
    while i < n:
        code = encoded[i]
        end = i + code
        if end > n:
            raise FramingError(f"COBS block of {code - 1} bytes overruns the frame ({n - i - 1} left)")
        out += encoded[i + 1:end]
        i = end
        if code < 255 and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {len(payload)} bytes exceeds the maximum {MAX_PAYLOAD}")
    body = bytes(payload) + zlib.crc32(payload).to_bytes(CRC_SIZE, "little")
    return DELIMITER + cobs_encode(body) + DELIMITER


def decode_frame(encoded: bytes) -> bytes:
    """Payload of one frame given without its delimiters; FramingError if damaged."""
    if len(encoded) > MAX_ENCODED:
        raise FramingError(f"frame of {len(encoded)} bytes exceeds the maximum {MAX_ENCODED}")
    body = cobs_decode(encoded)
    if len(body) < CRC_SIZE:
        raise FramingError(f"frame of {len(body)} bytes is shorter than its CRC")
    payload, crc = body[:-CRC_SIZE], int.from_bytes(body[-CRC_SIZE:], "little")
    if zlib.crc32(payload) != crc:
        raise FramingError("frame CRC mismatch")
    return payload


class FrameDecoder:
    """Incremental decoder: feed it whatever bytes arrived, get the intact payloads back.

    Damaged frames are dropped and counted in `errors` (their bytes in `junk`); a run of
    bytes longer than any frame without a delimiter is discarded up to the next
    delimiter (resynchronisation). `unframed` counts the bytes that are not (yet) part of
    an intact frame.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._discarding = False
        self.errors = 0
        self.junk = 0

    def feed(self, data: bytes) -> list[bytes]:
        return [payload for payload in self.feed_marked(data) if payload is not None]

    def feed_marked(self, data: bytes) -> list[bytes | None]:
        """Like `feed`, with None where a damaged frame was dropped (in stream order)."""
        self._pending += data
        if DELIMITER not in data:
            self._check_overflow()
            return []
        *complete, rest = self._pending.split(DELIMITER)
        self._pending = bytearray(rest)
        payloads: list[bytes | None] = []
        for encoded in complete:
            if self._discarding:
                self._discarding = False
                continue
            if not encoded:
                continue
            try:
                payloads.append(decode_frame(bytes(encoded)))
            except FramingError:
                self.errors += 1
                self.junk += len(encoded)
                payloads.append(None)
        self._check_overflow()
        return payloads

    @property
    def unframed(self) -> int:
        return self.junk + len(self._pending)

    def _check_overflow(self) -> None:
        if len(self._pending) > MAX_ENCODED:
            self.junk += len(self._pending)
            self._pending.clear()
            if not self._discarding:
                self.errors += 1
            self._discarding = True
