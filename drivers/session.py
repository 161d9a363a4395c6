"""Host side of the protocol: numbered requests, resends, timeouts, and what went wrong.

Control requests are stop-and-wait: each is resent under its sequence number until the
answer arrives — after the line's RTO (`drivers.pacing`), doubled for each silent
resend, or at once when the board NAKs a damaged frame or a damaged frame reaches the
host. The board answers a repeat from
its cache, so nothing runs twice; on a lossy line each send is several identical
frames at once, so that one of them likely gets through. Bulk data goes through
`drivers.window`, many frames in flight. Failures say what happened: the board refused
(with its text), is busy, speaks another protocol version, rebooted, or nothing answered
(and what did arrive).
"""
from __future__ import annotations

import os
import time

from drivers.chip import ChipError, NotLoadedError
from drivers.errors import (BoardBusyError, BoardResetError, ConfigMismatchError, LinkTimeout, ProtocolError,
                            ProtocolVersionError, VersionMismatch)
from drivers.link import Link
from drivers.pacing import FRAME_OVERHEAD, MAX_BACKOFF, Line
from drivers.window import download
from drivers.wire import (REQUESTS, SEQ_MODULUS, VERSION, ErrorBody, ErrorCode, Message, MsgType, Stream,
                          decode_message, encode_message)

ANSWER_BYTES = FRAME_OVERHEAD + 16   # a control answer on the line, at most


class Session:
    """Requests to one board over a Link; `link_timeout` (None: from the line) bounds the
    time without any answer."""

    def __init__(self, link: Link, line: Line, link_timeout: float | None = None):
        self.link = link
        self.line = line
        self.link_timeout = link_timeout
        self.boot = 0                      # 0 until the handshake
        self.retransmits = 0
        self.echoes = 0                    # our own requests heard back
        self.answers = 0                   # intact board messages heard
        self._seq = int.from_bytes(os.urandom(2), "little")

    @property
    def name(self) -> str:
        return self.link.name

    @property
    def timeout(self) -> float:
        return self.link_timeout if self.link_timeout is not None else self.line.link_timeout()

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) % SEQ_MODULUS
        return self._seq

    def send(self, kind: MsgType, seq: int, body: bytes = b"", *, copies: int = 1, flush: bool = True) -> int:
        """Send one request (as `copies` identical frames); returns the size of one on the line."""
        return self.link.send(encode_message(Message(kind, seq, self.boot, body)), copies=copies, flush=flush)

    def receive(self, until: float, marked: bool = False) -> list[Message | None]:
        """Board messages arriving before `until` (returns early once something arrived);
        with `marked`, None where a damaged frame arrived. Raises BoardResetError for
        another boot id, ProtocolVersionError for another version."""
        messages: list[Message | None] = []
        for payload in self.link.receive(until, marked):
            if payload is None:
                messages.append(None)
                continue
            try:
                message = decode_message(payload)
            except VersionMismatch as exc:
                raise ProtocolVersionError(
                    f"{self.name}: the board speaks wire protocol version {exc.version}; this host speaks version "
                    f"{VERSION}: update the board firmware or the harness so that both speak the same") from None
            except ProtocolError:
                continue
            if message.type in REQUESTS:
                self.echoes += 1
                continue
            self.answers += 1
            if self.boot and (message.type is MsgType.BOOT or message.boot != self.boot):
                self.boot_changed(message.boot)
            if message.type is not MsgType.BOOT:
                messages.append(message)
        return messages

    def request(self, kind: MsgType, body: bytes = b"", *, expect: MsgType | tuple[MsgType, ...] = MsgType.ACK,
                hold: float = 0.0) -> Message:
        """Send `kind` until its answer arrives (the board may take `hold` seconds to answer);
        ChipError subclasses for refusals, LinkTimeout after `timeout` without an answer."""
        seq = self.next_seq()
        payload = encode_message(Message(kind, seq, self.boot, body))
        nbytes = len(payload) + FRAME_OVERHEAD + ANSWER_BYTES
        started, sends, silent, heard = time.monotonic(), 0, 0, self.heard()
        while not sends or time.monotonic() - started < self.timeout:
            sent = time.monotonic()
            copies = self.line.copies(nbytes)
            self.link.send(payload, copies=copies)
            sends += 1
            wait = self.line.rto(copies * nbytes, min(2 ** silent, MAX_BACKOFF)) + hold
            reply, damaged = self._await(seq, min(sent + wait, started + self.timeout))
            if reply is not None or damaged:   # a silent timeout is a late answer, not a damaged one
                self.line.observe_exchange(reply is not None, nbytes, copies)
            else:
                silent += 1
            if reply is not None:
                self.retransmits += sends - 1
                if sends == 1 and not hold:
                    self.line.observe_rtt(time.monotonic() - sent)
                return self.check(kind, reply, expect)
        raise self.no_answer(kind, started, sends, heard)

    def _await(self, seq: int, until: float) -> tuple[Message | None, bool]:
        """The answer to `seq`, or None when it is time to resend; and whether a damaged
        frame (ours, NAKed by the board, or one reaching the host) is why."""
        while True:
            damaged, nak = self.link.damaged, False
            for message in self.receive(until):
                if message.type is MsgType.NAK:
                    nak = True
                elif message.seq == seq:
                    return message, False
            if nak or self.link.damaged != damaged:
                return None, True
            if time.monotonic() >= until:
                return None, False

    def heard(self) -> tuple[int, int, int]:
        """What arrived so far (echoes, junk bytes, intact board messages): a mark for `no_answer`."""
        return self.echoes, self.link.junk, self.answers

    def no_answer(self, kind: MsgType, since: float, sends: int, mark: tuple[int, int, int],
                  progress: str | None = None) -> LinkTimeout:
        """The error for `sends` sends of `kind` without an answer (or, for a transfer,
        without a new byte: `progress` says what it moved and has in flight) since `since`,
        saying what arrived after `mark` (from `heard`) and what the host measured."""
        echoes, junk, answers = (now - before for now, before in zip(self.heard(), mark))
        if echoes:
            heard = "the host's own requests came back: a loopback, or a terminal echoing, not a board"
        elif junk and answers:
            heard = (f"{junk} bytes arrived damaged among {answers} intact answers: the line corrupts more "
                     f"than gets through")
        elif junk:
            heard = (f"{junk} bytes arrived that are not frames of this protocol: is this a vc1 board, "
                     f"at the right baud rate?")
        elif progress is not None:
            heard = "no new byte arrived: the line or the bridge stopped forwarding, or it is far slower than measured"
        else:
            heard = "nothing arrived: is the board connected and powered, and is this its port?"
        waited = time.monotonic() - since
        what = (f"no answer to {kind.name} for {waited:.1f} s ({sends} send(s), link timeout {self.timeout:g} s)"
                if progress is None else
                f"no progress on {kind.name} for {waited:.1f} s ({sends} request(s) sent since, link timeout "
                f"{self.timeout:g} s; {progress})")
        measured = f" [{self.line.describe()}]" if self.line.srtt is not None else ""   # nothing measured yet
        return LinkTimeout(f"{self.name}: {what}; {heard}{measured}")

    def boot_changed(self, new_boot: int) -> None:
        old, self.boot = self.boot, 0
        raise BoardResetError(f"{self.name}: the board reset (boot id {old:#010x} -> {new_boot:#010x}) "
                              f"and lost its configuration", new_boot)

    def check(self, kind: MsgType, reply: Message, expect: MsgType | tuple[MsgType, ...]) -> Message:
        """`reply` if it is what `kind` expects; otherwise the error the board's answer means."""
        if reply.type is MsgType.ERROR:
            self._refused(kind, reply)
        expected = expect if isinstance(expect, tuple) else (expect,)
        if reply.type not in expected:
            raise ProtocolError(f"{self.name}: board answered {kind.name} with {reply.type.name}, "
                                f"expected {' or '.join(t.name for t in expected)}")
        return reply

    def _refused(self, kind: MsgType, reply: Message) -> None:
        error = ErrorBody.unpack(reply.body)
        if error.code is ErrorCode.BOARD_BUSY:
            raise BoardBusyError(f"{self.name}: the board is busy serving another client; "
                                 f"try again when that client has closed the board")
        if error.code is ErrorCode.STALE_SESSION:
            self.boot_changed(reply.boot)
        text = download(self, Stream.ERROR, error.message).decode(errors="replace")
        message = f"{self.name}: board refused {kind.name}: {text}"
        if error.code is ErrorCode.NOT_LOADED:
            raise NotLoadedError(message)
        if error.code is ErrorCode.WRONG_CONFIG:
            raise ConfigMismatchError(message)
        if error.code is ErrorCode.BAD_VERSION:
            raise ProtocolVersionError(message)
        raise ChipError(message)
