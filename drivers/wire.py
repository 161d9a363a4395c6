"""Messages of the board protocol (see docs/protocol.md): header, types and bodies.

Every frame payload is an 8-byte header ``<BBHI``: protocol version, message type,
sequence number, boot id, followed by the body. The host numbers its requests; the
board answers each with one message (a FETCH with one per chunk) carrying the same
sequence number and its current boot id, so the host can tell a late duplicate from the
answer it waits for and a rebooted board from the one it configured.
"""
from __future__ import annotations

import json
import struct
from dataclasses import asdict, astuple, dataclass
from enum import IntEnum
from typing import Any, ClassVar, Self

from drivers.errors import ProtocolError, VersionMismatch
from drivers.framing import MAX_PAYLOAD

VERSION = 2
HEADER = struct.Struct("<BBHI")
SEQ_MODULUS = 2**16
CHUNK_MAX = 32768        # data bytes in one LOAD_DATA, RUN_DATA or RESULT_DATA
MAX_BURST = 256          # RESULT_DATA frames one FETCH may ask for
BUSY_INTERVAL_S = 0.05   # a board answers RUN_START / RUN_WAIT at the latest after this (BUSY)


class MsgType(IntEnum):
    # host -> board requests
    HELLO = 0x01        # -> IDENTITY (a reference to the INFO stream)
    LOAD_BEGIN = 0x10   # LoadBegin -> ACK
    LOAD_DATA = 0x11    # chunk -> ACK(offset of the chunk now held)
    LOAD_COMMIT = 0x12  # -> LOADED(checksum)
    RUN_BEGIN = 0x20    # RunRequest -> ACK
    RUN_DATA = 0x21     # chunk of input events -> ACK(offset of the chunk now held)
    RUN_START = 0x22    # -> BUSY or RUN_DONE
    RUN_WAIT = 0x23     # -> BUSY or RUN_DONE
    FETCH = 0x30        # Fetch (stream, offset, length, chunk) -> RESULT_DATA per chunk
    RESET = 0x40        # -> ACK
    MONITOR = 0x50      # -> MONITOR_DATA: the power monitor's energy per rail over the last run
    # board -> host
    ACK = 0x80
    IDENTITY = 0x81
    LOADED = 0x92
    BUSY = 0xA1
    RUN_DONE = 0xA2
    MONITOR_DATA = 0xA3  # PowerReading
    RESULT_DATA = 0xB0
    BOOT = 0xF0         # unsolicited: the board (re)started; sequence number 0
    NAK = 0xFE          # a damaged frame arrived; sequence number 0
    ERROR = 0xFF        # ErrorBody: code + reference to the ERROR stream holding the message


class Stream(IntEnum):
    """What FETCH reads. Anything long travels this way, in host-sized chunks, so that
    it gets through a noisy line; short replies stay short."""

    RESULT = 0   # result of the last run
    INFO = 1     # BoardInfo JSON, as of the last HELLO
    ERROR = 2    # text of the last ERROR


REQUESTS = frozenset(t for t in MsgType if t < 0x80)


class ErrorCode(IntEnum):
    BAD_MESSAGE = 1     # malformed or unknown request
    BAD_CONFIG = 2      # the configuration image failed validation
    NOT_LOADED = 3      # run before load
    TOO_LARGE = 4       # beyond a board limit (steps, events, image size)
    BAD_INPUT = 5       # input events out of range
    STALE_SESSION = 6   # request names a boot id the board no longer has
    OUT_OF_ORDER = 7    # e.g. LOAD_COMMIT before all bytes arrived
    INTERNAL = 8        # the board failed (an exception in the run or the server); it goes on serving
    BAD_VERSION = 9     # the request speaks another protocol version
    BOARD_BUSY = 10     # the board serves another client (no ERROR stream: the code says it all)
    WRONG_CONFIG = 11   # RUN_BEGIN names a configuration the board does not hold


@dataclass(frozen=True)
class Message:
    type: MsgType
    seq: int
    boot: int
    body: bytes = b""


def encode_message(message: Message) -> bytes:
    return HEADER.pack(VERSION, message.type, message.seq % SEQ_MODULUS, message.boot) + message.body


def decode_message(payload: bytes) -> Message:
    """ProtocolError for a short header, another protocol version or an unknown type."""
    if len(payload) < HEADER.size:
        raise ProtocolError(f"message of {len(payload)} bytes is shorter than the {HEADER.size}-byte header")
    version, kind, seq, boot = HEADER.unpack_from(payload)
    if version != VERSION:
        raise VersionMismatch(f"peer speaks wire protocol version {version}; this side speaks {VERSION}", version)
    try:
        kind = MsgType(kind)
    except ValueError:
        raise ProtocolError(f"unknown message type 0x{kind:02x}") from None
    return Message(kind, seq, boot, bytes(payload[HEADER.size:]))


# ---- bodies ---------------------------------------------------------------------------
def _unpack(layout: struct.Struct, body: bytes, what: str) -> tuple:
    if len(body) != layout.size:
        raise ProtocolError(f"{what} body has {len(body)} bytes, expected {layout.size}")
    return layout.unpack(body)


U32 = struct.Struct("<I")
CHUNK_HEADER = struct.Struct("<I")
assert HEADER.size + CHUNK_HEADER.size + CHUNK_MAX <= MAX_PAYLOAD, "a full chunk must fit one frame"


def pack_u32(value: int) -> bytes:
    return U32.pack(value)


def unpack_u32(body: bytes, what: str) -> int:
    return _unpack(U32, body, what)[0]


def pack_chunk(offset: int, data: bytes) -> bytes:
    return CHUNK_HEADER.pack(offset) + data


def unpack_chunk(body: bytes) -> tuple[int, bytes]:
    if len(body) < CHUNK_HEADER.size:
        raise ProtocolError(f"chunk body has {len(body)} bytes, shorter than its offset field")
    return CHUNK_HEADER.unpack_from(body)[0], body[CHUNK_HEADER.size:]


def pack_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def unpack_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{what} body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} body is not a JSON object")
    return value


class _Fixed:
    """A body that is its dataclass fields in order, packed by LAYOUT; WHAT names it in errors."""

    LAYOUT: ClassVar[struct.Struct]
    WHAT: ClassVar[str]

    def pack(self) -> bytes:
        return self.LAYOUT.pack(*astuple(self))

    @classmethod
    def unpack(cls, body: bytes) -> Self:
        return cls(*_unpack(cls.LAYOUT, body, cls.WHAT))


@dataclass(frozen=True)
class LoadBegin(_Fixed):
    size: int       # bytes of the deflated image that follow in LOAD_DATA chunks
    checksum: int   # CRC-32 of the (inflated) image

    LAYOUT = struct.Struct("<II")
    WHAT = "LOAD_BEGIN"


@dataclass(frozen=True)
class RunRequest:
    config_checksum: int  # image checksum of the configuration the host loaded; the board refuses others
    steps: int
    n_events: int         # input events, deflated into `events_size` bytes of RUN_DATA
    events_size: int
    noise_amplitude: int
    noise_seed: int
    record_state: bool
    counters: bool = False  # flag bit 1: append the run's activity counters to the RESULT stream

    LAYOUT = struct.Struct("<IIIIIQB")

    def pack(self) -> bytes:
        return self.LAYOUT.pack(self.config_checksum, self.steps, self.n_events, self.events_size,
                                self.noise_amplitude, self.noise_seed, int(self.record_state) | 2 * int(self.counters))

    @classmethod
    def unpack(cls, body: bytes) -> "RunRequest":
        checksum, steps, n_events, size, amplitude, seed, flags = _unpack(cls.LAYOUT, body, "RUN_BEGIN")
        if flags > 3:
            raise ProtocolError(f"RUN_BEGIN flags 0x{flags:02x}: only bits 0 (record_state) and 1 (counters) "
                                f"are defined")
        return cls(checksum, steps, n_events, size, amplitude, seed, bool(flags & 1), bool(flags & 2))


@dataclass(frozen=True)
class RunSummary(_Fixed):
    n_spikes: int     # spike events, deflated into the first `spikes_size` bytes of the RESULT stream
    spikes_size: int
    state_size: int   # deflated state after them (0 without record_state)
    checksum: int     # CRC-32 of the whole RESULT stream

    LAYOUT = struct.Struct("<IIII")
    WHAT = "RUN_DONE"


@dataclass(frozen=True)
class PowerReading(_Fixed):
    """MONITOR_DATA body: the board's power monitor over the last run, energy per rail (J)."""

    seconds: float   # duration of the run the energies cover
    core_j: float    # core rail: neurons, synapses and static power
    io_j: float      # I/O rail: event routing and input events

    LAYOUT = struct.Struct("<ddd")
    WHAT = "MONITOR_DATA"

    @property
    def rails(self) -> dict[str, float]:
        return {"core": self.core_j, "io": self.io_j}


@dataclass(frozen=True)
class Fetch:
    """`length` bytes of `stream` from `offset`, answered as RESULT_DATA frames of `chunk` bytes."""

    stream: Stream
    offset: int
    length: int
    chunk: int

    LAYOUT = struct.Struct("<BIIH")

    def pack(self) -> bytes:
        return self.LAYOUT.pack(self.stream, self.offset, self.length, self.chunk)

    @classmethod
    def unpack(cls, body: bytes) -> "Fetch":
        stream, offset, length, chunk = _unpack(cls.LAYOUT, body, "FETCH")
        try:
            return cls(Stream(stream), offset, length, chunk)
        except ValueError:
            raise ProtocolError(f"FETCH of unknown stream {stream}") from None


@dataclass(frozen=True)
class StreamRef(_Fixed):
    """Size and CRC-32 of a stream to FETCH (IDENTITY body)."""

    size: int
    checksum: int

    LAYOUT = struct.Struct("<II")
    WHAT = "stream reference"


@dataclass(frozen=True)
class ErrorBody:
    code: ErrorCode
    message: StreamRef   # the text is the ERROR stream

    LAYOUT = struct.Struct("<HII")

    def pack(self) -> bytes:
        return self.LAYOUT.pack(self.code, self.message.size, self.message.checksum)

    @classmethod
    def unpack(cls, body: bytes) -> "ErrorBody":
        code, size, checksum = _unpack(cls.LAYOUT, body, "ERROR")
        try:
            code = ErrorCode(code)
        except ValueError:
            code = ErrorCode.INTERNAL
        return cls(code, StreamRef(size, checksum))


@dataclass(frozen=True)
class BoardInfo:
    """IDENTITY body: who the board is, its limits, and what it holds now."""

    spec: dict[str, Any]
    chip_id: str
    firmware: str
    mismatch: str
    capabilities: list[str]
    max_steps: int
    max_events: int
    loaded_checksum: int | None

    def pack(self) -> bytes:
        return pack_json(asdict(self))

    @classmethod
    def unpack(cls, body: bytes) -> "BoardInfo":
        data = unpack_json(body, "IDENTITY")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ProtocolError(f"IDENTITY body has the wrong fields ({exc})") from None
