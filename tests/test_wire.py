"""Messages, payload codecs, and the board's side of the protocol driven directly."""
import zlib

import numpy as np
import pytest

from drivers.board_server import BoardServer
from drivers.chip import RunResult
from drivers.conformance import demo_config
from drivers.emulator import EmulatorChip
from drivers.framing import ProtocolError
from drivers.payloads import (decode_image, decode_inputs, decode_spikes, decode_state, deflate, encode_image,
                              encode_inputs, encode_spikes, encode_state, image_checksum)
from drivers.wire import (BoardInfo, ErrorBody, ErrorCode, Fetch, LoadBegin, Message, MsgType, RunRequest, Stream,
                          StreamRef, decode_message, encode_message, pack_chunk, unpack_u32)


def test_message_round_trip_and_header_errors():
    message = Message(MsgType.RUN_DATA, 65535, 0xDEADBEEF, b"\x00\x01")
    assert decode_message(encode_message(message)) == message
    with pytest.raises(ProtocolError, match="shorter than"):
        decode_message(b"\x01\x01")
    with pytest.raises(ProtocolError, match="version 9"):
        decode_message(b"\x09" + encode_message(message)[1:])
    with pytest.raises(ProtocolError, match="unknown message type 0x77"):
        decode_message(b"\x01\x77" + encode_message(message)[2:])


def test_bodies_round_trip():
    request = RunRequest(10, 3, 40, 7, 2**64 - 1, True)
    assert RunRequest.unpack(request.pack()) == request
    assert Fetch.unpack(Fetch(Stream.INFO, 5, 6).pack()) == Fetch(Stream.INFO, 5, 6)
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
        self.board, self.seq = board, 0

    def send(self, kind: MsgType, body: bytes = b"", seq: int | None = None) -> Message:
        self.seq = self.seq + 1 if seq is None else seq
        return decode_message(self.board.handle(encode_message(Message(kind, self.seq, self.board.boot, body))))

    def error_text(self, reply: Message) -> str:
        assert reply.type is MsgType.ERROR, reply
        ref = ErrorBody.unpack(reply.body).message
        chunk = self.send(MsgType.FETCH, Fetch(Stream.ERROR, 0, ref.size).pack())
        return chunk.body[4:].decode()

    def load(self, config) -> Message:
        image = encode_image(config)
        deflated = deflate(image)
        assert self.send(MsgType.LOAD_BEGIN, LoadBegin(len(deflated), zlib.crc32(image)).pack()).type is MsgType.ACK
        assert unpack_u32(self.send(MsgType.LOAD_DATA, pack_chunk(0, deflated)).body, "ACK") == len(deflated)
        return self.send(MsgType.LOAD_COMMIT)


def test_board_identity_and_checksum():
    host = Host(BoardServer("dynapse1", 3))
    reply = host.send(MsgType.HELLO)
    ref = StreamRef.unpack(reply.body)
    info = BoardInfo.unpack(host.send(MsgType.FETCH, Fetch(Stream.INFO, 0, ref.size).pack()).body[4:])
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
    assert host.error_text(host.send(MsgType.RUN_BEGIN, RunRequest(5, 0, 0, 0, 0, False).pack())).startswith(
        "no configuration loaded")


def test_board_refuses_stale_sessions_and_bad_events():
    board = BoardServer(max_steps=100)
    host = Host(board)
    host.load(demo_config(EmulatorChip()))
    stale = board.handle(encode_message(Message(MsgType.RESET, 9, board.boot ^ 1)))
    assert ErrorBody.unpack(decode_message(stale).body).code is ErrorCode.STALE_SESSION
    assert "limit of 1..100 steps" in host.error_text(host.send(MsgType.RUN_BEGIN, RunRequest(101, 0, 0, 0, 0, False).pack()))
    bad = np.zeros(1, [("t", "<u4"), ("channel", "<u2"), ("count", "u1")])
    bad[0] = (2, 64, 1)
    events = deflate(bad.tobytes())
    host.send(MsgType.RUN_BEGIN, RunRequest(5, 1, len(events), 0, 0, False).pack())
    host.send(MsgType.RUN_DATA, pack_chunk(0, events))
    assert "channel=64" in host.error_text(host.send(MsgType.RUN_START))
