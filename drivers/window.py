"""Bulk transfers with many frames in flight and selective retransmit.

A transfer is a byte range cut into pieces of the line's current chunk size
(`drivers.pacing`). Pieces go out while the bytes in flight (requests and the answers
they ask for) fit the line's window; every answer names its piece by offset. The byte
stream is ordered both ways and the board answers in order, so an answer shows that
every piece sent before it and still unanswered was lost: those are resent at once.
A piece whose answer is overdue (RTO) is resent too; that is congestion, not corruption
(`Line.observe_timeout` halves the window), and if the late answer comes after all it
delivers its piece like any other. Only what was lost travels again, and a lost frame
costs its retransmission, not a round trip. On a lossy line requests go as several
identical frames, and window room left at the end of a transfer carries a spare request
for the pieces still in flight. Every delivered piece is a delivery-rate sample for the
line. A transfer that delivers no new byte for the link timeout raises LinkTimeout,
naming the line's estimates and what was in flight.

Uploads (LOAD_DATA, RUN_DATA) send one piece per request, acknowledged by offset; a
download asks with one FETCH for a run of pieces and gets one RESULT_DATA per piece.
Both are idempotent by offset, so a piece may safely arrive twice.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from drivers.errors import ProtocolError
from drivers.pacing import DATA_OVERHEAD, FRAME_OVERHEAD, MAX_BACKOFF, MIN_RTO_S
from drivers.ranges import Ranges
from drivers.wire import (MAX_BURST, U32, Fetch, Message, MsgType, Stream, StreamRef, pack_chunk, unpack_chunk,
                          unpack_u32)

if TYPE_CHECKING:
    from drivers.session import Session

Piece = tuple[int, int]    # [start, end) of the transfer
SPARE_LOSS = 0.1           # send spare copies when a piece is lost this often
FETCH_BYTES = FRAME_OVERHEAD + Fetch.LAYOUT.size


@dataclass
class _Request:
    seq: int
    pieces: list[Piece]    # answers expected, in this order
    asked: tuple[Piece, ...]  # the pieces it asked for (an answer for one given up on may still come)
    sent: float
    deadline: float
    nbytes: int            # on the line, both ways
    copies: int            # identical frames, each answered, it was sent as
    delivered: int         # the transfer's bytes delivered when it was sent ...
    delivered_at: float    # ... when the last of them was (its send time if none) ...
    first_sent: float      # ... and when the request that delivered it was sent
    window_full: bool      # more was waiting to be sent (not the tail of the transfer)
    answered: bool = False
    suspect: bool = False  # a damaged frame came where its next answer was due


class _Transfer:
    """Selective repeat over the `size` bytes of one transfer; subclasses say how a
    request is built and what an answer means."""

    kind: MsgType
    expect: MsgType
    burst: int             # pieces per request
    overhead: int          # line bytes of one piece's exchange besides its data

    def __init__(self, session: Session, size: int):
        self.session = session
        self.size = size
        self.missing = Ranges(0, size)   # not yet confirmed
        self.unsent = Ranges(0, size)    # not confirmed and no copy in flight
        self.flight: dict[int, _Request] = {}
        self.copies: dict[Piece, int] = {}
        self.in_flight = 0               # line bytes of the requests in flight
        self.backoff = 1                 # doubles with each overdue answer, 1 again once one arrives
        self.late: dict[int, _Request] = {}   # overdue requests whose answers may still come
        self.delivered = 0               # line bytes of the exchanges delivered so far
        self.delivered_at: float | None = None
        self.delivered_sent = 0.0        # when the request of the last delivery was sent
        self.damaged = 0                 # damaged frames (the host's or, NAKed, the board's) ...
        self.explained = 0               # ... and the losses they account for

    def _send(self, seq: int, pieces: list[Piece]) -> tuple[int, int]:
        """Send the request for `pieces`; returns the line bytes it and its answers take,
        and how many identical frames, each answered, it went as."""
        raise NotImplementedError

    def _take(self, answer: Message, request: _Request) -> Piece:
        """The piece `answer` delivers (storing its data); ProtocolError if none of `request`'s."""
        raise NotImplementedError

    def run(self) -> None:
        """Move every piece; LinkTimeout when no new byte arrives for the link timeout."""
        session, line = self.session, self.session.line
        progress, sends, heard, missing = time.monotonic(), 0, session.heard(), self.missing.total()
        while self.missing:
            sends += self._fill()
            until = min([r.deadline for r in self.flight.values()] + [progress + session.timeout])
            for answer in session.receive(until, marked=True):
                if answer is None or answer.type is MsgType.NAK:   # a frame was damaged, ours or the board's
                    self.damaged += 1
                    self._suspect()
                    continue
                request = self.flight.get(answer.seq) or self.late.get(answer.seq)
                if request is None:
                    continue
                session.check(self.kind, answer, self.expect)
                piece = self._take(answer, request)
                if request.seq in self.flight and piece in request.pieces:
                    self._answered(request, piece)
                    self.backoff = 1
                else:
                    self._answered_late(request, piece)
            now = time.monotonic()
            if self.missing.total() < missing:
                progress, sends, heard, missing = now, 0, session.heard(), self.missing.total()
            overdue = [r for r in self.flight.values() if r.deadline <= now]
            congested = False
            for request in overdue:   # lost to corruption while damaged frames account for it, else late
                if self.explained < self.damaged:
                    self._lost(request, 1 if request.suspect else len(request.pieces), keep=True)
                    self._next_due(request, now)
                    continue
                self.late[request.seq] = replace(request, pieces=list(request.pieces))
                self._lost(request, len(request.pieces), certain=False)
                congested = True
            if congested:
                self.backoff = min(2 * self.backoff, MAX_BACKOFF)
                line.observe_timeout(now)
            if self.missing and now - progress >= session.timeout:
                raise session.no_answer(self.kind, progress, sends, heard, progress=self._in_flight(now))

    def _in_flight(self, now: float) -> str:
        """What the transfer has moved and has in flight, for LinkTimeout."""
        done = f"{self.size - self.missing.total()} of {self.size} bytes delivered"
        late = f", {len(self.late)} overdue earlier" if self.late else ""
        if not self.flight:
            return f"{done}; nothing in flight{late}"
        oldest = min(r.sent for r in self.flight.values())
        return (f"{done}; in flight: {len(self.flight)} request(s), {self.in_flight} B on the line, "
                f"the oldest sent {now - oldest:.1f} s ago{late}")

    def _fill(self) -> int:
        """Send requests while the window has room, in one write; returns how many."""
        line, sent = self.session.line, 0
        while True:
            chunk = line.chunk(self.overhead)
            room = line.window() - self.in_flight
            if self.flight and room < chunk + self.overhead:
                break
            pieces = self._next(chunk, max(1, min(self.burst, room // (chunk + self.overhead))))
            if not pieces:
                break
            seq, now = self.session.next_seq(), time.monotonic()
            nbytes, copies = self._send(seq, pieces)
            self.flight[seq] = _Request(seq, pieces, tuple(pieces), now, now + self._rto(self.in_flight + nbytes),
                                        nbytes, copies,
                                        self.delivered, self.delivered_at or now, self.delivered_sent or now,
                                        bool(self.unsent))
            self.in_flight += nbytes
            for piece in pieces:
                self.copies[piece] = self.copies.get(piece, 0) + 1
            sent += 1
        self.session.link.flush()
        return sent

    def _next(self, chunk: int, count: int) -> list[Piece]:
        """New pieces from what is unsent; else, on a lossy line, spare copies of the oldest
        run of consecutive pieces in flight that have no spare yet."""
        span = self.unsent.first(chunk * count)
        if span is not None:
            self.unsent.remove(*span)
            return [(at, min(at + chunk, span[1])) for at in range(span[0], span[1], chunk)]
        line = self.session.line
        if line.loss(chunk + self.overhead) < SPARE_LOSS or line.bandwidth_bound():
            return []
        for request in self.flight.values():
            run: list[Piece] = []
            for piece in request.pieces:
                if self.copies.get(piece) == 1 and len(run) < count and (not run or run[-1][1] == piece[0]):
                    run.append(piece)
                elif run:
                    break
            if run:
                return run
        return []

    def _rto(self, nbytes: int) -> float:
        return self.session.line.rto(nbytes, self.backoff)

    def _answered(self, request: _Request, piece: Piece) -> None:
        """`piece` of `request` arrived: what was sent before it and is still unanswered is lost."""
        for earlier in list(self.flight.values()):
            if earlier is request:
                break
            self._lost(earlier, len(earlier.pieces))
        now = time.monotonic()
        if not request.answered:   # the round trip of the request and its first answer
            request.answered = True
            self.session.line.observe_rtt(now - request.sent)
        self._lost(request, request.pieces.index(piece), keep=True)
        del request.pieces[0]
        self._delivered(request, piece, now)
        self._settle(piece, True, request.copies)
        self._next_due(request, now)
        self.late = {seq: late for seq, late in self.late.items() if late.sent > request.sent}   # answered before it

    def _next_due(self, request: _Request, now: float) -> None:
        """The next piece of a burst is due a piece's time from now; a request with none is done."""
        request.suspect = False
        if request.pieces:
            request.deadline = now + self._rto(request.pieces[0][1] - request.pieces[0][0] + self.overhead)
        else:
            self._retire(request)

    def _suspect(self) -> None:
        """A damaged frame arrived: the board's (likely the next answer due) or, if the board
        NAKed, ours. The next answer due gets a little longer (later answers show a gap at
        once); if it does not come, it was lost to corruption."""
        request = next(iter(self.flight.values()), None)
        if request is None or self.late or not request.pieces:
            return
        line, (start, end) = self.session.line, request.pieces[0]
        request.suspect = True
        due = time.monotonic() + MIN_RTO_S + 2 * (end - start + self.overhead) / line.rate
        request.deadline = min(request.deadline, due)

    def _answered_late(self, request: _Request, piece: Piece) -> None:
        """`piece` of `request`, given up on as overdue, arrived after all: late, not lost."""
        if piece in request.pieces and request.seq in self.late:
            request.pieces.remove(piece)
            if not request.pieces:
                del self.late[request.seq]
        self._delivered(request, piece, time.monotonic(), sample=False)
        self.missing.remove(*piece)
        self.unsent.remove(*piece)

    def _delivered(self, request: _Request, piece: Piece, now: float, sample: bool = True) -> None:
        """`piece` of `request` arrived; unless `sample` is False (a late answer, whose
        interval says little), a delivery-rate sample as TCP takes it: the bytes delivered
        since `request` was sent, over the longer of the intervals between the delivery
        before it and now, and between their sends."""
        line, nbytes = self.session.line, piece[1] - piece[0] + self.overhead
        self.delivered += nbytes
        self.delivered_at, self.delivered_sent = now, request.sent
        if sample:
            interval = max(now - request.delivered_at, request.sent - request.first_sent)
            line.observe_delivery(self.delivered - request.delivered, interval, request.window_full)
        line.observe_acked(nbytes, line.chunk(self.overhead) + self.overhead)

    def _lost(self, request: _Request, count: int, keep: bool = False, certain: bool = True) -> None:
        """The first `count` pieces of `request` are lost (`certain`: not only overdue); it
        is retired unless `keep`."""
        if count and certain:
            self.explained = min(self.damaged, self.explained + 1)
        for piece in request.pieces[:count]:
            self._settle(piece, False, request.copies, certain)
        del request.pieces[:count]
        if not keep:
            self._retire(request)

    def _retire(self, request: _Request) -> None:
        if self.flight.pop(request.seq, None) is not None:
            self.in_flight -= request.nbytes

    def _settle(self, piece: Piece, delivered: bool, copies: int, certain: bool = True) -> None:
        """One request for `piece` (sent as `copies` frames) got it through or was lost; a
        lost piece with no request left in flight is unsent again."""
        if delivered or certain:
            self.session.line.observe_exchange(delivered, piece[1] - piece[0] + self.overhead, copies)
        self.session.retransmits += not delivered
        left = self.copies.get(piece, 0) - 1
        if left > 0 and not delivered:
            self.copies[piece] = left
            return
        self.copies.pop(piece, None)
        if delivered:
            self.missing.remove(*piece)
            self.unsent.remove(*piece)
        else:   # what is still missing of it (a late answer may have brought part of it)
            for span in self.missing.within(*piece):
                self.unsent.add(*span)


class _Upload(_Transfer):
    expect = MsgType.ACK
    burst = 1
    overhead = DATA_OVERHEAD + FRAME_OVERHEAD + U32.size   # the chunk's frame and its ACK

    def __init__(self, session: Session, kind: MsgType, data: bytes):
        super().__init__(session, len(data))
        self.kind, self.data = kind, data

    def _send(self, seq: int, pieces: list[Piece]) -> tuple[int, int]:
        """On a lossy line with time to spare a chunk goes as several frames at once, each
        acknowledged, so that an upload does not wait a round trip for every loss."""
        (start, end), = pieces
        line = self.session.line
        copies = 1 if line.bandwidth_bound() else line.copies(end - start + self.overhead)
        frame = self.session.send(self.kind, seq, pack_chunk(start, self.data[start:end]), copies=copies, flush=False)
        return copies * (frame + FRAME_OVERHEAD + U32.size), copies

    def _take(self, answer: Message, request: _Request) -> Piece:
        (piece,) = request.asked
        if unpack_u32(answer.body, "ACK") != piece[0]:
            raise ProtocolError(f"{self.session.name}: board acknowledged {self.kind.name} at offset "
                                f"{unpack_u32(answer.body, 'ACK')}, not the chunk it was sent")
        return piece


class _Download(_Transfer):
    kind = MsgType.FETCH
    expect = MsgType.RESULT_DATA
    burst = MAX_BURST
    overhead = DATA_OVERHEAD

    def __init__(self, session: Session, stream: Stream, size: int):
        super().__init__(session, size)
        self.stream, self.data = stream, bytearray(size)

    def _send(self, seq: int, pieces: list[Piece]) -> tuple[int, int]:
        """One FETCH for the run of `pieces`, as frames enough to get through; the board
        answers only the first that arrives, so the pieces come once."""
        start, end, chunk = pieces[0][0], pieces[-1][1], pieces[0][1] - pieces[0][0]
        body = Fetch(self.stream, start, end - start, chunk).pack()
        copies = self.session.line.copies(FETCH_BYTES)
        request = self.session.send(MsgType.FETCH, seq, body, copies=copies, flush=False)
        return request * copies + sum(b - a + DATA_OVERHEAD for a, b in pieces), 1

    def _take(self, answer: Message, request: _Request) -> Piece:
        offset, data = unpack_chunk(answer.body)
        piece = (offset, offset + len(data))
        if piece not in request.asked:
            raise ProtocolError(f"{self.session.name}: board sent bytes {piece[0]}..{piece[1]} of the "
                                f"{self.stream.name} stream, which FETCH did not ask for")
        self.data[offset:offset + len(data)] = data
        return piece


def upload(session: Session, kind: MsgType, data: bytes) -> None:
    """Send `data` with LOAD_DATA or RUN_DATA requests."""
    _Upload(session, kind, data).run()


def download(session: Session, stream: Stream, ref: StreamRef) -> bytes:
    """Fetch `stream` (`ref.size` bytes) and check its CRC-32."""
    transfer = _Download(session, stream, ref.size)
    transfer.run()
    if zlib.crc32(transfer.data) != ref.checksum:
        raise ProtocolError(f"{session.name}: {stream.name} stream checksum mismatch")
    return bytes(transfer.data)
