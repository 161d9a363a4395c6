"""Messages, payload codecs, and the board's side of the protocol driven directly."""
import zlib

import numpy as np
import pytest

from drivers.board_server import BoardServer
from drivers.chip import RunResult
from drivers.conformance import demo_config
from drivers.emulator import EmulatorChip
from drivers.errors import ProtocolError, VersionMismatch
from drivers.payloads import (decode_image, decode_inputs, decode_spikes, decode_state, deflate, encode_image,
                              encode_inputs, encode_spikes, encode_state, image_checksum)
from drivers.wire import (BoardInfo, ErrorBody, ErrorCode, Fetch, LoadBegin, Message, MsgType, RunRequest, Stream,
                          VERSION, StreamRef, decode_message, encode_message, pack_chunk, unpack_chunk, unpack_u32)


def test_message_round_trip_and_header_errors():
    message = Message(MsgType.RUN_DATA, 65535, 0xDEADBEEF, b"\x00\x01")
    assert decode_message(encode_message(message)) == message
    with pytest.raises(ProtocolError, match="shorter than"):
        decode_message(b"\x01\x01")
    with pytest.raises(VersionMismatch, match="version 9"):
        decode_message(b"\x09" + encode_message(message)[1:])
    with pytest.raises(ProtocolError, match="unknown message type 0x77"):
        decode_message(bytes([VERSION, 0x77]) + encode_message(message)[2:])


def test_bodies_round_trip():
    request = RunRequest(0xFEEDF00D, 10, 3, 40, 7, 2**64 - 1, True)
    assert RunRequest.unpack(request.pack()) == request
    assert Fetch.unpack(Fetch(Stream.INFO, 5, 6, 2).pack()) == Fetch(Stream.INFO, 5, 6, 2)
    assert LoadBegin.unpack(LoadBegin(1, 2).pack()) == LoadBegin(1, 2)
    error = ErrorBody(ErrorCode.BAD_CONFIG, StreamRef(12, 34))
    assert ErrorBody.unpack(error.pack()) == error
    with pytest.raises(ProtocolError, match="RUN_BEGIN body has 3 bytes"):
        RunRequest.unpack(b"abc")


def test_image_round_trip_is_lossless_even_when_invalid():
    config = demo_config(EmulatorChip())
    config.cam_type = config.cam_type.astype(np.int64)
    config.cam_type[0, 0] = 300        # invalid, and must reach the board as such
    back = decode_image(encode_image(config))
    assert back.cam_type.dtype == np.int64 and back.cam_type[0, 0] == 300
    assert image_checksum(back) == image_checksum(config)
    np.testing.assert_array_equal(back.cam_source, config.cam_source)


def test_events_round_trip():
    rng = np.random.default_rng(0)
    counts = (rng.random((30, 8)) < 0.2) * rng.integers(1, 16, (30, 8))
    n, data = encode_inputs(counts.astype(np.uint8))
    np.testing.assert_array_equal(decode_inputs(data, n, 30, 8), counts)
    with pytest.raises(ProtocolError, match=r"channel=\d, count=\d+\) is outside t < 30, channel < 4"):
        decode_inputs(data, n, 30, 4)
    spikes = rng.random((30, 50)) < 0.1
    n, data = encode_spikes(spikes)
    np.testing.assert_array_equal(decode_spikes(data, n, 30, 50), spikes)
    result = RunResult(spikes, rng.integers(-2**23, 2**23, (30, 50)), rng.integers(0, 2**24, (30, 4, 50)),
                       rng.integers(0, 256, (30, 50)))
    v, isyn, refr = decode_state(encode_state(result), 30, 50)
    np.testing.assert_array_equal(v, result.v)
    np.testing.assert_array_equal(isyn, result.isyn)
    np.testing.assert_array_equal(refr, result.refr)


class Host:
    """Drives a BoardServer directly with request payloads."""

    def __init__(self, board: BoardServer):
        self.board, self.seq, self.checksum = board, 0, 0

    def answers(self, kind: MsgType, body: bytes = b"", seq: int | None = None) -> list[Message]:
        self.seq = self.seq + 1 if seq is None else seq
        return [decode_message(a) for a in self.board.handle(encode_message(Message(kind, self.seq, self.board.boot, body)))]

    def send(self, kind: MsgType, body: bytes = b"", seq: int | None = None) -> Message:
        answer, = self.answers(kind, body, seq)
        return answer

    def error_text(self, reply: Message) -> str:
        assert reply.type is MsgType.ERROR, reply
        ref = ErrorBody.unpack(reply.body).message
        chunk = self.send(MsgType.FETCH, Fetch(Stream.ERROR, 0, ref.size, ref.size).pack())
        return chunk.body[4:].decode()

    def load(self, config) -> Message:
        image = encode_image(config)
        deflated = deflate(image)
        half = len(deflated) // 2
        assert self.send(MsgType.LOAD_BEGIN, LoadBegin(len(deflated), zlib.crc32(image)).pack()).type is MsgType.ACK
        for offset in (half, 0):   # out of order: the board stores chunks where they belong
            chunk = deflated[offset:] if offset else deflated[:half]
            assert unpack_u32(self.send(MsgType.LOAD_DATA, pack_chunk(offset, chunk)).body, "ACK") == offset
        self.checksum = zlib.crc32(image)
        return self.send(MsgType.LOAD_COMMIT)

    def run(self, steps: int, events: bytes = deflate(b""), n_events: int = 0) -> Message:
        """RUN_BEGIN, RUN_DATA, RUN_START: the first refusal, else RUN_START's answer."""
        for kind, body in ((MsgType.RUN_BEGIN, RunRequest(self.checksum, steps, n_events, len(events), 0, 0, False).pack()),
                           (MsgType.RUN_DATA, pack_chunk(0, events)), (MsgType.RUN_START, b"")):
            reply = self.send(kind, body)
            if reply.type is MsgType.ERROR:
                break
        return reply


def test_board_identity_and_checksum():
    host = Host(BoardServer("dynapse1", 3))
    reply = host.send(MsgType.HELLO)
    ref = StreamRef.unpack(reply.body)
    info = BoardInfo.unpack(host.send(MsgType.FETCH, Fetch(Stream.INFO, 0, ref.size, ref.size).pack()).body[4:])
    assert info.chip_id == "seed:3" and info.loaded_checksum is None
    config = demo_config(EmulatorChip())
    assert unpack_u32(host.load(config).body, "LOADED") == image_checksum(config)


def test_board_rejects_bad_config_with_the_validation_message():
    host = Host(BoardServer())
    config = demo_config(EmulatorChip())
    config.theta[1] = [0, 0]
    assert "theta value[1]" in host.error_text(host.load(config))


def test_board_repeats_its_answer_to_a_repeated_request_without_redoing_it():
    host = Host(BoardServer())
    host.load(demo_config(EmulatorChip()))
    first = host.send(MsgType.RESET, seq=40)
    assert host.send(MsgType.RESET, seq=40) == first
    assert host.error_text(host.send(MsgType.RUN_BEGIN, RunRequest(0, 5, 0, 0, 0, 0, False).pack())).startswith(
        "no configuration loaded")


def test_board_refuses_stale_sessions_and_bad_events():
    board = BoardServer(max_steps=100)
    host = Host(board)
    host.load(demo_config(EmulatorChip()))
    stale, = board.handle(encode_message(Message(MsgType.RESET, 9, board.boot ^ 1)))
    assert ErrorBody.unpack(decode_message(stale).body).code is ErrorCode.STALE_SESSION
    assert "limit of 1..100 steps" in host.error_text(host.send(MsgType.RUN_BEGIN, RunRequest(host.checksum, 101, 0, 0, 0, 0, False).pack()))
    bad = np.zeros(1, [("t", "<u4"), ("channel", "<u2"), ("count", "u1")])
    bad[0] = (2, 64, 1)
    events = deflate(bad.tobytes())
    assert "channel=64" in host.error_text(host.run(5, events, n_events=1))


def test_fetch_answers_one_chunk_per_frame():
    host = Host(BoardServer())
    ref = StreamRef.unpack(host.send(MsgType.HELLO).body)
    chunks = host.answers(MsgType.FETCH, Fetch(Stream.INFO, 10, 25, 10).pack())
    assert [unpack_chunk(c.body)[0] for c in chunks] == [10, 20, 30]
    assert [len(unpack_chunk(c.body)[1]) for c in chunks] == [10, 10, 5]
    assert "at most 256" in host.error_text(host.send(MsgType.FETCH, Fetch(Stream.INFO, 0, ref.size, 1).pack()))


def test_board_refuses_a_run_for_a_configuration_it_does_not_hold():
    host = Host(BoardServer())
    host.load(demo_config(EmulatorChip()))
    host.checksum ^= 1
    reply = host.run(5)
    assert ErrorBody.unpack(reply.body).code is ErrorCode.WRONG_CONFIG
    assert "this board holds" in host.error_text(reply)


def test_an_exception_in_a_run_is_an_internal_error_and_the_board_goes_on(monkeypatch):
    board = BoardServer()
    host = Host(board)
    host.load(demo_config(EmulatorChip()))

    def explode(*args, **kwargs):
        raise MemoryError("cannot allocate the state")

    monkeypatch.setattr(board.chip, "run", explode)
    reply = host.run(5)
    while reply.type is MsgType.BUSY:
        reply = host.send(MsgType.RUN_WAIT)
    assert ErrorBody.unpack(reply.body).code is ErrorCode.INTERNAL
    assert "MemoryError: cannot allocate the state" in host.error_text(reply)
    monkeypatch.undo()
    assert host.run(5).type in (MsgType.BUSY, MsgType.RUN_DONE)


def test_a_request_of_another_protocol_version_is_answered_bad_version():
    board = BoardServer()
    payload = bytearray(encode_message(Message(MsgType.HELLO, 77, 0)))
    payload[0] = 1
    answer, = board.handle(bytes(payload))
    reply = decode_message(answer)
    assert reply.seq == 77 and ErrorBody.unpack(reply.body).code is ErrorCode.BAD_VERSION
