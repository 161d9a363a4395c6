"""Timing and sizes from the line: a slow clean line, a very noisy one, and the estimates behind them."""
import time

import numpy as np
import pytest
import serial

from drivers.board_server import BoardServer
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.emulator import EmulatorChip
from drivers.endpoints import PtyEndpoint
from drivers.faults import FaultyPort, Faults
from drivers.link import POLL_S
from drivers.pacing import CHUNK_MIN, DATA_OVERHEAD, RATE_SAMPLES, Line
from drivers.payloads import deflate, encode_image
from drivers.ranges import Ranges
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from sim.chip.spec import ChipSpec, load_spec

TINY = ChipSpec.from_dict({**load_spec("dynapse1").to_dict(), "name": "tiny", "cores": 1, "neurons_per_core": 32,
                           "inputs": 8, "fan_in": 8})
BAUD_115200 = 115200 / 10   # bytes/s of a 115200-baud 8N1 line


def board_through(url: str, faults: Faults, **options) -> SerialBoard:
    return SerialBoard(FaultyPort(serial.serial_for_url(url, timeout=POLL_S), faults, seed=3), name=url, **options)


def test_a_clean_115200_baud_line_completes_a_deploy():
    """The full-size demo configuration (~44 kB deflated) at 11.5 kB/s with the default
    timeouts: chunks, window and resend times follow the line, so nothing times out."""
    with BackgroundServer(BoardServer("dynapse1", 2), PtyEndpoint()) as server:
        reference = EmulatorChip("dynapse1", 2)
        config, inputs = demo_config(reference), demo_inputs(reference, steps=20)
        reference.load(config)
        with board_through(server.url, Faults(rate=BAUD_115200), baudrate=115200) as board:
            start = time.monotonic()
            board.load(config)
            loaded = time.monotonic() - start
            assert_same_result(board.run(inputs, noise_amplitude=5), reference.run(inputs, noise_amplitude=5))
    assert loaded >= len(deflate(encode_image(config))) / BAUD_115200, "the line was not paced"


def test_five_percent_flipped_bytes_in_both_directions_completes_bit_identical():
    with BackgroundServer(BoardServer(TINY, 4), PtyEndpoint()) as server:
        reference = EmulatorChip(TINY, 4)
        config, inputs = demo_config(reference), demo_inputs(reference, steps=30)
        reference.load(config)
        with board_through(server.url, Faults(corrupt=0.05), link_timeout=10) as board:
            board.load(config)
            run = dict(noise_amplitude=30, noise_seed=9, record_state=True)
            assert_same_result(board.run(inputs, **run), reference.run(inputs, **run))
            assert board.retransmits > 100
            assert 0.02 < board.line.byte_error_rate < 0.1


def _line_with_error_rate(error: float, rate: float = 1e6) -> Line:
    """A line that has seen exchanges of mixed sizes with `error` flipped bytes."""
    line, rng = Line(rate=rate), np.random.default_rng(0)
    for size in rng.choice([20, 40, 300, 2000], 3000):
        line.observe_exchange(rng.random() < (1 - error) ** size, int(size))
    return line


@pytest.mark.parametrize("error", [0.001, 0.01, 0.05])
def test_the_byte_error_rate_is_learnt_from_frames_of_any_size(error):
    assert _line_with_error_rate(error).byte_error_rate == pytest.approx(error, rel=0.5)


def test_chunks_and_copies_follow_the_error_rate_and_the_line_rate():
    assert _line_with_error_rate(0.0).chunk(DATA_OVERHEAD) == Line(rate=1e6).window() // 2
    assert 25 <= _line_with_error_rate(0.01).chunk(DATA_OVERHEAD) <= 45
    assert 8 <= _line_with_error_rate(0.05).chunk(DATA_OVERHEAD) <= 16
    assert Line(rate=BAUD_115200).chunk(DATA_OVERHEAD) <= BAUD_115200 * 0.05   # a frame: at most 50 ms of line
    assert Line(rate=100.0).chunk(DATA_OVERHEAD) == CHUNK_MIN
    assert _line_with_error_rate(0.0).copies(40) == 1
    assert _line_with_error_rate(0.05).copies(40) > 4


def test_round_trips_set_the_resend_time_and_the_default_link_timeout():
    line = Line(rate=BAUD_115200)
    assert line.rto() == pytest.approx(0.2)                       # nothing measured yet
    for _ in range(20):
        line.observe_rtt(0.01)
    assert 0.01 < line.rto() < 0.05
    assert line.rto(11520) == pytest.approx(line.rto() + 1.0)     # plus the line time of the bytes
    assert line.link_timeout() >= 2.0


def test_the_delivery_rate_rises_and_falls_with_the_line():
    line = Line(rate=BAUD_115200)
    line.observe_delivery(10000, 0.001)                 # 10 kB acknowledged in 1 ms: a faster line than guessed
    assert line.rate == pytest.approx(1e7)
    for _ in range(RATE_SAMPLES):                       # then the line slows to 32 kB/s (a bridge)
        line.observe_delivery(3200, 0.1)
    assert line.rate == pytest.approx(32000)
    line.observe_delivery(100, 0.1, window_full=False)  # a lone request: says nothing about a slower line ...
    assert line.rate == pytest.approx(32000)
    line.observe_delivery(6400, 0.1)                    # one fast sample is an outlier ...
    assert line.rate == pytest.approx(32000)
    for _ in range(3):
        line.observe_delivery(6400, 0.1, window_full=False)  # ... a few (even of a window not full) a faster line
    assert line.rate == pytest.approx(64000)


def test_a_timeout_halves_the_window_once_an_rto_and_acks_grow_it_back():
    line = Line(rate=64000)
    line.observe_rtt(0.05)
    full = line.window()
    line.observe_timeout(now=10.0)
    assert line.window() == full // 2 and line.congestion_events == 1
    line.observe_timeout(now=10.1)                      # the same congestion: within an RTO (0.15 s)
    assert line.window() == full // 2
    line.observe_timeout(now=10.2)                      # an RTO later: congestion again
    assert line.window() == full // 4 and line.congestion_events == 2
    before = line.byte_error_rate
    for _ in range(200):
        line.observe_acked(1000, chunk=1000)            # additive increase: a chunk per window
    assert line.window() == full and line.cwnd is None
    assert line.byte_error_rate == before               # late is not corrupt


def test_ranges_merge_split_and_cover():
    ranges = Ranges(0, 100)
    ranges.remove(10, 20)
    ranges.remove(50, 60)
    assert ranges.spans() == [(0, 10), (20, 50), (60, 100)]
    assert ranges.first(5) == (0, 5) and ranges.prefix() == 10
    assert ranges.covers(25, 50) and not ranges.covers(5, 15)
    assert ranges.within(5, 55) == [(5, 10), (20, 50)] and ranges.total() == 80
    ranges.add(10, 20)
    assert ranges.spans() == [(0, 50), (60, 100)] and ranges.prefix() == 50
    ranges.remove(0, 100)
    assert not ranges and ranges.first(5) is None and ranges.prefix() == 0
