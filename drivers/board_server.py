"""The board side of the protocol, wrapping an EmulatorChip: a virtual board.

`BoardServer.handle` turns one request payload into its answers (one, or one per chunk
for FETCH); `drivers.serving` pumps frames between an endpoint and the server. The
board validates everything it receives and answers problems with ERROR messages; an
exception anywhere in a request or a run becomes an INTERNAL error, never a crash.
Runs execute on a worker thread so the board keeps answering (BUSY) while it computes.
The board counts every run's activity (returned when RUN_BEGIN asks for it) and answers
MONITOR with its power monitor's energy per rail over the last run: the chip power model
(`sim.chip.power`) applied to that run's counters, with a relative measurement noise
`power_noise` (normal, one draw per rail and reading).
"""
from __future__ import annotations

import hashlib
import os
import threading
import zlib
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from drivers.chip import PHYSICAL, ChipError
from drivers.defects import Defect, DefectiveChip
from drivers.emulator import EmulatorChip
from drivers.errors import ProtocolError, VersionMismatch
from drivers.payloads import (MAX_IMAGE_BYTES, PayloadError, decode_image, decode_inputs, encode_counters,
                              encode_spikes, encode_state, image_checksum, inflate)
from drivers.ranges import Ranges
from drivers.simulated_chip import SimulatedChip
from drivers.wire import (BUSY_INTERVAL_S, CHUNK_MAX, HEADER, MAX_BURST, REQUESTS, VERSION, BoardInfo, ErrorBody,
                          ErrorCode, Fetch, LoadBegin, Message, MsgType, PowerReading, RunRequest, RunSummary,
                          Stream, StreamRef, decode_message, encode_message, pack_chunk, pack_u32, unpack_chunk)
from sim.chip.activity import Activity
from sim.chip.config import ConfigError
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import DEFAULT_SPEC, ChipSpec, load_spec

FIRMWARE = "virtual-board-1"
_T = TypeVar("_T")
ENGINES = {"emulator": EmulatorChip, "simulator": SimulatedChip}
DEFAULT_MAX_STEPS = 100_000
IDEMPOTENT = frozenset({MsgType.LOAD_DATA, MsgType.RUN_DATA, MsgType.FETCH})   # not cached: harmless to repeat


class Refusal(Exception):
    """A request the board will not carry out; becomes an ERROR message."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class _Upload:
    """Chunks arrive in any order (the host keeps several in flight) and land at their offset."""

    size: int
    checksum: int = 0   # announced CRC-32 of the inflated content, where there is one
    held: Ranges = field(default_factory=Ranges)
    data: bytearray = field(init=False)

    def __post_init__(self) -> None:
        self.data = bytearray(self.size)

    def add(self, body: bytes) -> int:
        """Store a chunk; returns its offset (what the ACK names)."""
        offset, chunk = unpack_chunk(body)
        if offset + len(chunk) > self.size:
            raise Refusal(ErrorCode.TOO_LARGE, f"chunk ends at byte {offset + len(chunk)} of a {self.size}-byte upload")
        self.data[offset:offset + len(chunk)] = chunk
        self.held.add(offset, offset + len(chunk))
        return offset

    def complete(self, what: str) -> bytes:
        if self.size and not self.held.covers(0, self.size):
            raise Refusal(ErrorCode.OUT_OF_ORDER, f"{what}: holds {self.held.prefix()} of {self.size} bytes in order")
        return bytes(self.data)


class _RunJob:
    """One run on a worker thread; once `done` is set, either `summary` and `stream` (the
    result) or `error` (a Refusal: whatever the run raised, MemoryError included) hold."""

    def __init__(self, chip: EmulatorChip, counts: np.ndarray, request: RunRequest):
        self.done = threading.Event()
        self.stream = b""
        self.summary: RunSummary | None = None
        self.activity: Activity | None = None
        self.steps = len(counts)
        self.error: Refusal | None = None
        self._thread = threading.Thread(target=self._work, args=(chip, counts, request), daemon=True)
        self._thread.start()

    def _work(self, chip: EmulatorChip, counts: np.ndarray, request: RunRequest) -> None:
        try:
            result = chip.run(counts, noise_amplitude=request.noise_amplitude, noise_seed=request.noise_seed,
                              record_state=request.record_state)
            n_spikes, spikes = encode_spikes(result.spikes)
            state = encode_state(result) if request.record_state else b""
            self.activity = result.activity
            self.stream = spikes + state + (encode_counters(result.activity) if request.counters else b"")
            self.summary = RunSummary(n_spikes, len(spikes), len(state), zlib.crc32(self.stream))
        except (ChipError, ValueError) as exc:
            self.error = Refusal(ErrorCode.BAD_INPUT, str(exc))
        except Exception as exc:  # noqa: BLE001 - the board reports every failure and goes on serving
            self.error = Refusal(ErrorCode.INTERNAL, f"the run failed on the board: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()


def serial_number(chip_seed: int) -> str:
    """The serial number an anonymous board reports: stable for a chip seed, but not the seed."""
    return "SN-" + hashlib.sha256(f"vc1-board-serial:{int(chip_seed)}".encode()).hexdigest()[:10].upper()


class BoardServer:
    """Chip #`chip_seed` of `spec` behind the wire protocol. `anonymous`: the board identifies
    as a physical chip (a serial number, mismatch "physical"), so no host can simulate its
    twin; `defect`: emulated dead or stuck neurons (drivers.defects), not shown in the identity;
    `engine`: what computes its runs, the emulator or the (bit-identical, faster) batched
    simulator (drivers.simulated_chip)."""

    def __init__(self, spec: str | ChipSpec = DEFAULT_SPEC, chip_seed: int = 0, mismatch: MismatchLevel = "spec", *,
                 max_steps: int = DEFAULT_MAX_STEPS, busy_interval: float = BUSY_INTERVAL_S,
                 power_noise: float = 0.0, anonymous: bool = False, defect: Defect | None = None,
                 engine: str = "emulator"):
        if not 0 <= power_noise < 1:
            raise ValueError(f"power_noise {power_noise!r}: the monitor's relative noise must be in [0, 1)")
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r}: choose {' or '.join(ENGINES)}")
        if defect is not None and engine != "emulator":
            raise ValueError("defects are emulated by the emulator engine (--engine emulator)")
        self.power_noise = power_noise
        self.spec = load_spec(spec)
        self.chip_seed = chip_seed
        self.mismatch = mismatch
        self.anonymous, self.defect, self.engine = anonymous, defect, engine
        self.max_steps = max_steps
        self.busy_interval = busy_interval
        self._reboot_requested = threading.Event()
        self._boot()

    def _boot(self) -> None:
        self.boot = int.from_bytes(os.urandom(4), "little") or 1
        if self.defect is not None:
            self.chip = DefectiveChip(self.spec, self.chip_seed, self.mismatch, self.defect)
        else:
            self.chip = ENGINES[self.engine](self.spec, self.chip_seed, self.mismatch)
        self._checksum: int | None = None
        self._load: _Upload | None = None
        self._run: tuple[RunRequest, _Upload] | None = None
        self._job: _RunJob | None = None
        self._streams: dict[Stream, bytes] = {}
        self._last: tuple[bytes, list[bytes]] | None = None   # (request payload, answers) for repeats
        self._last_fetch = b""                               # an identical repeat is a copy: no answer
        self._readings = 0                                   # power-monitor readings since boot

    # ---- power ------------------------------------------------------------------------
    def reboot(self) -> None:
        """Simulate a power cycle (thread-safe): applied by the serving loop, which then announces BOOT."""
        self._reboot_requested.set()

    def pending_announcements(self) -> list[bytes]:
        if not self._reboot_requested.is_set():
            return []
        self._reboot_requested.clear()
        self._boot()
        return [encode_message(Message(MsgType.BOOT, 0, self.boot))]

    def busy(self, payload: bytes) -> bytes | None:
        """The answer to a request from a second client while another is served."""
        try:
            request = decode_message(payload)
        except ProtocolError:
            return None
        return encode_message(Message(MsgType.ERROR, request.seq, self.boot,
                                      ErrorBody(ErrorCode.BOARD_BUSY, StreamRef(0, 0)).pack()))

    def nak(self) -> bytes:
        return encode_message(Message(MsgType.NAK, 0, self.boot))

    # ---- requests ---------------------------------------------------------------------
    def handle(self, payload: bytes) -> list[bytes]:
        """The answers to one request payload (one, or one per chunk for FETCH)."""
        try:
            request = decode_message(payload)
        except VersionMismatch as exc:
            seq = HEADER.unpack_from(payload)[2]
            return [self._error(seq, ErrorCode.BAD_VERSION, f"this board speaks wire protocol version {VERSION}; "
                                                            f"the request is version {exc.version}")]
        except ProtocolError as exc:
            return [self._error(0, ErrorCode.BAD_MESSAGE, str(exc))]
        if request.type not in REQUESTS:
            return [self._error(request.seq, ErrorCode.BAD_MESSAGE, f"{request.type.name} is not a request")]
        if request.type is MsgType.HELLO:
            self._last = None
            return [self._answer(request, MsgType.IDENTITY, self._set_stream(Stream.INFO, self._info().pack()).pack())]
        if request.boot != self.boot:
            return [self._error(request.seq, ErrorCode.STALE_SESSION,
                                f"request names boot id {request.boot:#010x}; this board booted as {self.boot:#010x}")]
        if request.type in IDEMPOTENT:
            if request.type is MsgType.FETCH and payload == self._last_fetch:
                return []   # a copy the host sent for safety (it resends under a new number): answered already
            self._last_fetch = payload if request.type is MsgType.FETCH else b""
            return self._answers(request)
        if self._last is not None and self._last[0] == payload:
            return self._last[1]
        answers = self._answers(request)
        self._last = (payload, answers)
        return answers

    def _answers(self, request: Message) -> list[bytes]:
        try:
            if request.type is MsgType.FETCH:
                chunks = self._fetch(Fetch.unpack(request.body))
                return [self._answer(request, MsgType.RESULT_DATA, chunk) for chunk in chunks]
            kind, body = self._dispatch(request)
            return [self._answer(request, kind, body)]
        except Refusal as exc:
            return [self._error(request.seq, exc.code, str(exc))]
        except ProtocolError as exc:
            return [self._error(request.seq, ErrorCode.BAD_MESSAGE, str(exc))]
        except Exception as exc:  # noqa: BLE001 - a board answers every request, whatever happened
            return [self._error(request.seq, ErrorCode.INTERNAL,
                                f"the board failed on {request.type.name}: {type(exc).__name__}: {exc}")]

    def _answer(self, request: Message, kind: MsgType, body: bytes) -> bytes:
        return encode_message(Message(kind, request.seq, self.boot, body))

    def _error(self, seq: int, code: ErrorCode, text: str) -> bytes:
        ref = self._set_stream(Stream.ERROR, text.encode())
        return encode_message(Message(MsgType.ERROR, seq, self.boot, ErrorBody(code, ref).pack()))

    def _set_stream(self, stream: Stream, data: bytes) -> StreamRef:
        self._streams[stream] = data
        return StreamRef(len(data), zlib.crc32(data))

    def _info(self) -> BoardInfo:
        identity = self.chip.identity()
        chip_id, mismatch = (serial_number(self.chip_seed), PHYSICAL) if self.anonymous else \
            (identity.chip_id, identity.mismatch)
        return BoardInfo(spec=self.spec.to_dict(), chip_id=chip_id, firmware=FIRMWARE, mismatch=mismatch,
                         capabilities=[*identity.capabilities, *(["power_monitor"] if self.spec.power else [])],
                         max_steps=self.max_steps, max_events=self.max_steps * self.spec.inputs,
                         loaded_checksum=self._checksum)

    def _dispatch(self, request: Message) -> tuple[MsgType, bytes]:
        kind, body = request.type, request.body
        if kind is MsgType.LOAD_BEGIN:
            begin = LoadBegin.unpack(body)
            if begin.size > MAX_IMAGE_BYTES:
                raise Refusal(ErrorCode.TOO_LARGE, f"image of {begin.size} bytes exceeds {MAX_IMAGE_BYTES}")
            self.chip.reset()
            self._checksum, self._job, self._run = None, None, None
            self._load = _Upload(begin.size, begin.checksum)
            return MsgType.ACK, pack_u32(0)
        if kind is MsgType.LOAD_DATA:
            return MsgType.ACK, pack_u32(self._need(self._load, "LOAD_DATA before LOAD_BEGIN").add(body))
        if kind is MsgType.LOAD_COMMIT:
            return MsgType.LOADED, pack_u32(self._commit())
        if kind is MsgType.RUN_BEGIN:
            return MsgType.ACK, pack_u32(self._begin_run(RunRequest.unpack(body)))
        if kind is MsgType.RUN_DATA:
            upload = self._need(self._run, "RUN_DATA before RUN_BEGIN")[1]
            return MsgType.ACK, pack_u32(upload.add(body))
        if kind is MsgType.RUN_START:
            return self._start_run()
        if kind is MsgType.RUN_WAIT:
            return self._wait(self._need(self._job, "RUN_WAIT without a run"))
        if kind is MsgType.MONITOR:
            return MsgType.MONITOR_DATA, self._monitor().pack()
        if kind is MsgType.RESET:
            self.chip.reset()
            self._checksum, self._load, self._run, self._job = None, None, None, None
            return MsgType.ACK, pack_u32(0)
        raise Refusal(ErrorCode.BAD_MESSAGE, f"unhandled request {kind.name}")

    @staticmethod
    def _need(value: _T | None, problem: str) -> _T:
        if value is None:
            raise Refusal(ErrorCode.OUT_OF_ORDER, problem)
        return value

    def _commit(self) -> int:
        upload = self._need(self._load, "LOAD_COMMIT before LOAD_BEGIN")
        deflated = upload.complete("LOAD_COMMIT")
        self._load = None
        try:
            image = inflate(deflated, MAX_IMAGE_BYTES, "configuration image")
            if zlib.crc32(image) != upload.checksum:
                raise Refusal(ErrorCode.BAD_CONFIG, f"image checksum {zlib.crc32(image):#010x} does not match "
                                                    f"the announced {upload.checksum:#010x}")
            config = decode_image(image)
            self.chip.load(config)
        except (PayloadError, ConfigError, ChipError, ValueError) as exc:
            raise Refusal(ErrorCode.BAD_CONFIG, str(exc)) from None
        self._checksum = image_checksum(config)
        return self._checksum

    def _begin_run(self, request: RunRequest) -> int:
        if self._checksum is None:
            raise Refusal(ErrorCode.NOT_LOADED, "no configuration loaded: load one before running")
        if request.config_checksum != self._checksum:
            raise Refusal(ErrorCode.WRONG_CONFIG, f"the run is for configuration {request.config_checksum:#010x}; "
                                                  f"this board holds {self._checksum:#010x}")
        if not 1 <= request.steps <= self.max_steps:
            raise Refusal(ErrorCode.TOO_LARGE, f"run of {request.steps} steps is outside this board's "
                                               f"limit of 1..{self.max_steps} steps")
        if request.n_events > request.steps * self.spec.inputs:
            raise Refusal(ErrorCode.BAD_INPUT, f"{request.n_events} input events cannot fit {request.steps} steps "
                                               f"x {self.spec.inputs} channels")
        self._job = None
        if request.events_size > MAX_IMAGE_BYTES:
            raise Refusal(ErrorCode.TOO_LARGE, f"{request.events_size} bytes of input events exceed {MAX_IMAGE_BYTES}")
        self._run = (request, _Upload(request.events_size))
        return 0

    def _start_run(self) -> tuple[MsgType, bytes]:
        request, upload = self._need(self._run, "RUN_START before RUN_BEGIN")
        events = upload.complete("RUN_START")
        try:
            counts = decode_inputs(events, request.n_events, request.steps, self.spec.inputs)
        except PayloadError as exc:
            raise Refusal(ErrorCode.BAD_INPUT, str(exc)) from None
        self._run = None
        self._job = _RunJob(self.chip, counts, request)
        return self._wait(self._job)

    def _monitor(self) -> PowerReading:
        """The power monitor's energy per rail over the last finished run (model plus noise)."""
        if self.spec.power is None:
            raise Refusal(ErrorCode.BAD_MESSAGE, f"this board's spec {self.spec.name} has no power model: no monitor")
        job = self._need(self._job, "MONITOR without a run: run something first")
        if not job.done.is_set() or job.activity is None:
            raise Refusal(ErrorCode.OUT_OF_ORDER, "MONITOR before the run finished")
        seconds = job.steps * self.spec.dt_ms / 1000.0
        counts = job.activity.counts(0)
        rails = self.spec.power.rail_energy(counts, seconds, self.spec.cores)
        self._readings += 1
        noise = np.random.default_rng([self.chip_seed, self.boot, self._readings]).normal(0.0, self.power_noise, 2)
        return PowerReading(seconds, rails["core"] * (1 + noise[0]), rails["io"] * (1 + noise[1]))

    def _wait(self, job: _RunJob) -> tuple[MsgType, bytes]:
        if not job.done.wait(self.busy_interval):
            return MsgType.BUSY, b""
        if job.error is not None:
            raise job.error
        return MsgType.RUN_DONE, self._need(job.summary, "the run left no result").pack()

    def _fetch(self, fetch: Fetch) -> list[bytes]:
        """The chunk bodies answering `fetch`: `chunk` bytes each, from `offset` to its end."""
        if fetch.stream is Stream.RESULT:
            job = self._need(self._job, "FETCH of a result without a run")
            if not job.done.is_set() or job.summary is None:
                raise Refusal(ErrorCode.OUT_OF_ORDER, "FETCH of a result before the run finished")
            self._streams[Stream.RESULT] = job.stream
        data = self._need(self._streams.get(fetch.stream), f"FETCH of {fetch.stream.name}: nothing to fetch")
        end = min(fetch.offset + fetch.length, len(data))
        if fetch.offset >= end or not 1 <= fetch.chunk <= CHUNK_MAX or fetch.length > fetch.chunk * MAX_BURST:
            raise Refusal(ErrorCode.BAD_MESSAGE, f"FETCH of {fetch.length} bytes in {fetch.chunk}-byte chunks at "
                                                 f"{fetch.offset} of the {len(data)}-byte {fetch.stream.name} stream "
                                                 f"(chunks 1..{CHUNK_MAX} bytes, at most {MAX_BURST} of them)")
        return [pack_chunk(at, data[at:min(at + fetch.chunk, end)]) for at in range(fetch.offset, end, fetch.chunk)]

