"""SerialBoard: a Chip on the far side of a serial line, speaking docs/protocol.md.

Opened by URL through `serial.serial_for_url`, so /dev/ttyACM0, socket://host:port and
rfc2217://host:port all work (rfc2217:// through `drivers.rfc2217_port`, which takes the
server's baud rate); the port is held exclusively (see `drivers.portlock`). Timing
follows the line (`drivers.pacing`): the baud rate where the port has one, then the
delivery rate, round trips and congestion measured from the handshake on; `link_timeout` (None:
from the line) is how long the board may stay silent before LinkTimeout.

Board resets: the host keeps the configuration it loaded. When the board reports a new
boot id (it rebooted and lost that configuration), the default `on_reset="reload"`
re-handshakes, checks it is the same chip, re-loads and repeats the interrupted
operation (runs are deterministic, so the result is exactly what the first attempt
would have returned), at most `max_recoveries` times per call; `on_reset="raise"`
raises BoardResetError instead. Either way a wrong result is never returned.
"""
from __future__ import annotations

import time
import zlib
from typing import Any, Callable, TypeVar

import numpy as np
import serial

from drivers.chip import ChipError, ChipIdentity, RunResult
from drivers.errors import BoardResetError, ConfigMismatchError, LinkTimeout, PortBusyError
from drivers.link import POLL_S, Link
from drivers.pacing import Line
from drivers.payloads import (COUNTER_BYTES, decode_counters, decode_spikes, decode_state, deflate, encode_image,
                               encode_inputs)
from drivers.portlock import PortLock
from drivers.rfc2217_port import Rfc2217Port
from drivers.session import Session
from drivers.window import download, upload
from drivers.wire import (BUSY_INTERVAL_S, BoardInfo, LoadBegin, MsgType, PowerReading, RunRequest, RunSummary,
                          Stream, StreamRef, unpack_u32)
from sim.chip.config import ChipConfig
from sim.chip.inputs import check_inputs
from sim.chip.noise import check_noise
from sim.chip.spec import ChipSpec, SpecError

DEFAULT_BAUDRATE = 115200
WRITE_TIMEOUT_S = 30.0   # a write the port does not take within this long means the board is not reading
T = TypeVar("T")


class SerialBoard:
    """A Chip behind `port` (an open pyserial-style port). Use `SerialBoard.open(url)`."""

    def __init__(self, port: Any, *, name: str, link_timeout: float | None = None, baudrate: int | None = None,
                 run_timeout: float | None = None, on_reset: str = "reload", max_recoveries: int = 2,
                 lock: PortLock | None = None):
        if on_reset not in ("reload", "raise"):
            raise ValueError(f"on_reset must be 'reload' or 'raise', got {on_reset!r}")
        self.name = name
        self.run_timeout = run_timeout
        self.on_reset = on_reset
        self.max_recoveries = max_recoveries
        self.resets_seen = 0
        self._lock = lock
        self._session = Session(Link(port, name), Line.for_baudrate(baudrate), link_timeout)
        self._config: ChipConfig | None = None
        self._checksum = 0      # image checksum of `_config`
        self._closed = False
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, url: str, *, baudrate: int | None = None, **options: Any) -> "SerialBoard":
        """Open the board at `url` exclusively and shake hands; ChipError if it cannot.
        `baudrate` None: a device's default (115200), or an rfc2217:// server's own (it is
        asked, and whatever it reports sets the line's first rate estimate). `options` are
        the constructor's (link_timeout, run_timeout, on_reset, max_recoveries)."""
        lock = PortLock.acquire(url)
        is_device = "://" not in url
        try:
            if url.startswith("rfc2217://"):
                port = Rfc2217Port(url, baudrate=baudrate, timeout=POLL_S)
                baudrate = port.server_baudrate or baudrate
            else:
                port = serial.serial_for_url(url, baudrate=baudrate or DEFAULT_BAUDRATE, timeout=POLL_S,
                                             write_timeout=WRITE_TIMEOUT_S, exclusive=True if is_device else None)
                baudrate = (baudrate or DEFAULT_BAUDRATE) if is_device else None   # socket:// has no line rate
        except (serial.SerialException, ValueError) as exc:
            lock.release()
            if "exclusively lock" in str(exc):
                raise PortBusyError(f"{url} is in use by another client ({exc})") from None
            raise ChipError(f"cannot open board at {url}: {exc}") from None
        port.reset_input_buffer()
        return cls(port, name=url, lock=lock, baudrate=baudrate, **options)

    # ---- Chip protocol ------------------------------------------------------------------
    def identity(self) -> ChipIdentity:
        return self._identity

    def load(self, config: ChipConfig) -> None:
        self._check_open()
        self._config = None
        self._guarded(lambda: self._upload(config), needs_config=False)
        self._config = config

    def run(self, inputs: np.ndarray, *, noise_amplitude: int = 0, noise_seed: int = 0,
            record_state: bool = False) -> RunResult:
        self._check_open()
        counts = check_inputs(inputs, self.spec)
        amplitude, seed = check_noise(noise_amplitude, noise_seed)
        n_events, events = encode_inputs(counts)
        counters = "counters" in self._identity.capabilities
        return self._guarded(lambda: self._run(RunRequest(self._checksum, counts.shape[0], n_events, len(events),
                                                          amplitude, seed, record_state, counters), events),
                             needs_config=True)

    def read_power(self) -> PowerReading:
        """The board's power monitor: energy per rail over the last run (`PowerReading`);
        ChipError when the board has no monitor."""
        self._check_open()
        if "power_monitor" not in self._identity.capabilities:
            raise ChipError(f"{self.name}: board {self._identity.chip_id} has no power monitor "
                            f"(capabilities: {', '.join(self._identity.capabilities) or 'none'})")
        reply = self._guarded(lambda: self._session.request(MsgType.MONITOR, expect=MsgType.MONITOR_DATA),
                              needs_config=True)
        return PowerReading.unpack(reply.body)

    def reset(self) -> None:
        self._check_open()
        self._config = None
        self._guarded(lambda: self._session.request(MsgType.RESET), needs_config=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._session.link.close()
        if self._lock:
            self._lock.release()

    def __enter__(self) -> "SerialBoard":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- board facts --------------------------------------------------------------------
    def board_checksum(self) -> int | None:
        """CRC-32 of the configuration image the board holds now (None: nothing loaded)."""
        self._check_open()
        return self._hello().loaded_checksum

    @property
    def retransmits(self) -> int:
        return self._session.retransmits

    @property
    def line(self) -> Line:
        """What the host measured about the line: rate, round trips, byte error rate."""
        return self._session.line

    # ---- internals ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ChipError(f"{self.name}: board connection is closed")

    def _hello(self) -> BoardInfo:
        reply = self._session.request(MsgType.HELLO, expect=MsgType.IDENTITY)
        self._session.boot = reply.boot
        return BoardInfo.unpack(download(self._session, Stream.INFO, StreamRef.unpack(reply.body)))

    def _handshake(self) -> None:
        self._session.boot = 0
        info = self._hello()
        try:
            spec = ChipSpec.from_dict(info.spec, origin=f"board {self.name}")
        except SpecError as exc:
            raise ChipError(str(exc)) from None
        identity = ChipIdentity(spec_version=spec.spec_version, spec_name=spec.name, chip_id=info.chip_id,
                                firmware=info.firmware, mismatch=info.mismatch, capabilities=tuple(info.capabilities))
        if hasattr(self, "_identity") and (identity, spec) != (self._identity, self.spec):
            raise ChipError(f"{self.name}: a different board answered after a reset "
                            f"({self._identity.chip_id} became {identity.chip_id})")
        self._identity, self.spec, self.max_steps = identity, spec, info.max_steps

    def _guarded(self, operation: Callable[[], T], *, needs_config: bool) -> T:
        """Run `operation`; on a board reset re-handshake, then re-load and repeat it
        (on_reset='reload', loaded configuration, within max_recoveries) or raise."""
        for attempt in range(self.max_recoveries + 1):
            try:
                return operation()
            except (BoardResetError, ConfigMismatchError):   # our configuration was lost or replaced
                self.resets_seen += 1
                self._handshake()
                config, self._config = self._config, None
                if self.on_reset == "raise" or attempt == self.max_recoveries or (needs_config and config is None):
                    raise
                if config is not None:
                    self._upload(config)
                    self._config = config
        raise AssertionError("unreachable")

    def _upload(self, config: ChipConfig) -> None:
        image = encode_image(config)
        checksum = zlib.crc32(image)
        deflated = deflate(image)
        self._session.request(MsgType.LOAD_BEGIN, LoadBegin(len(deflated), checksum).pack())
        upload(self._session, MsgType.LOAD_DATA, deflated)
        reply = self._session.request(MsgType.LOAD_COMMIT, expect=MsgType.LOADED)
        held = unpack_u32(reply.body, "LOADED")
        if held != checksum:
            raise ChipError(f"{self.name}: board holds image checksum {held:#010x}, host sent {checksum:#010x}")
        self._checksum = checksum

    def _run(self, request: RunRequest, events: bytes) -> RunResult:
        session = self._session
        session.request(MsgType.RUN_BEGIN, request.pack())
        upload(session, MsgType.RUN_DATA, events)
        started, outcome = time.monotonic(), (MsgType.BUSY, MsgType.RUN_DONE)
        reply = session.request(MsgType.RUN_START, expect=outcome, hold=BUSY_INTERVAL_S)
        while reply.type is MsgType.BUSY:
            if self.run_timeout is not None and time.monotonic() - started > self.run_timeout:
                raise LinkTimeout(f"{self.name}: run of {request.steps} steps still busy after {self.run_timeout:g} s")
            reply = session.request(MsgType.RUN_WAIT, expect=outcome, hold=BUSY_INTERVAL_S)
        summary = RunSummary.unpack(reply.body)
        split = summary.spikes_size
        state_end = split + summary.state_size
        counters = COUNTER_BYTES if request.counters else 0
        stream = download(session, Stream.RESULT, StreamRef(state_end + counters, summary.checksum))
        spikes = decode_spikes(stream[:split], summary.n_spikes, request.steps, self.spec.n_neurons)
        activity = decode_counters(stream[state_end:]) if request.counters else None
        if not request.record_state:
            return RunResult(spikes, activity=activity)
        return RunResult(spikes, *decode_state(stream[split:state_end], request.steps, self.spec.n_neurons),
                         activity=activity)
