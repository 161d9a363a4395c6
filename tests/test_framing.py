"""COBS + CRC-32 frames: round trips, resynchronisation after garbage, fuzzing."""
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.board_server import BoardServer
from drivers.framing import (MAX_PAYLOAD, FrameDecoder, FramingError, ProtocolError, cobs_decode, cobs_encode,
                             decode_frame, encode_frame)
from drivers.payloads import PayloadError, decode_image, decode_inputs, decode_spikes
from drivers.wire import decode_message


@given(st.binary(max_size=2000))
def test_cobs_round_trip_has_no_zero_bytes(data):
    encoded = cobs_encode(data)
    assert 0 not in encoded and cobs_decode(encoded) == data


def test_cobs_block_boundaries():
    for n in (253, 254, 255, 508, 509):
        for data in (b"\x01" * n, b"\x01" * n + b"\x00", b"\x00" * n):
            assert cobs_decode(cobs_encode(data)) == data


@given(st.lists(st.binary(max_size=300), max_size=5), st.lists(st.binary(max_size=40), min_size=6, max_size=6))
def test_decoder_recovers_every_frame_between_garbage(payloads, garbage):
    stream = garbage[0] + b"".join(encode_frame(p) + g for p, g in zip(payloads, garbage[1:]))
    decoder = FrameDecoder()
    got = []
    for i in range(0, len(stream), 7):   # arbitrary block boundaries
        got += decoder.feed(stream[i:i + 7])
    # garbage may itself form a valid frame only with a matching CRC-32: vanishingly rare
    assert [p for p in got if p in payloads] == payloads


def test_damaged_frames_are_counted_and_dropped():
    frame = bytearray(encode_frame(b"hello board"))
    frame[3] ^= 0x40
    decoder = FrameDecoder()
    assert decoder.feed(bytes(frame) + encode_frame(b"next")) == [b"next"]
    assert decoder.errors == 1
    marked = FrameDecoder().feed_marked(encode_frame(b"first") + bytes(frame) + encode_frame(b"next"))
    assert marked == [b"first", None, b"next"]   # where the damaged frame was, for the link's loss detection


def test_endless_garbage_is_discarded_then_decoding_resumes():
    decoder = FrameDecoder()
    assert decoder.feed(b"\xff" * (MAX_PAYLOAD * 2)) == []
    assert decoder.errors == 1
    assert decoder.feed(encode_frame(b"ok")) == [b"ok"]


def test_crc_mismatch_is_a_framing_error():
    body = b"payload" + (zlib.crc32(b"payload") ^ 1).to_bytes(4, "little")
    try:
        decode_frame(cobs_encode(body))
    except FramingError as exc:
        assert "CRC" in str(exc)
    else:
        raise AssertionError("damaged frame accepted")


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_fuzz_frame_decoding_raises_only_framing_errors(data):
    try:
        decode_frame(data)
    except FramingError:
        pass
    FrameDecoder().feed(data)   # never raises


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_message_and_payload_decoders_raise_only_protocol_errors(data):
    for decode in (decode_message, decode_image, lambda d: decode_inputs(d, 3, 10, 8),
                   lambda d: decode_spikes(d, 3, 10, 8)):
        try:
            decode(data)
        except (ProtocolError, PayloadError):
            pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=64))
def test_fuzz_board_answers_any_request_with_a_message(kind, body):
    from drivers.wire import HEADER, VERSION
    board = BoardServer("dynapse1")
    payload = HEADER.pack(VERSION, kind, 1, board.boot) + body
    answers = [decode_message(answer) for answer in board.handle(payload)]
    assert answers and all(answer.boot == board.boot for answer in answers)
