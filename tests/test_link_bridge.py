"""The link through a TCP serial bridge (ser2net, RFC 2217): pacing, small buffers, a
bridge that stops forwarding, corruption on a slow line (`drivers.bridge.TcpBridge`)."""
import time

import pytest
import serial

from drivers.board_server import BoardServer
from drivers.bridge import TcpBridge
from drivers.chip import ChipError
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.emulator import EmulatorChip
from drivers.endpoints import TcpEndpoint
from drivers.errors import LinkTimeout
from drivers.faults import Faults
from drivers.link import POLL_S
from drivers.payloads import deflate, encode_image
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from sim.chip.spec import ChipSpec, load_spec

TINY = ChipSpec.from_dict({**load_spec("dynapse1").to_dict(), "name": "tiny", "cores": 1, "neurons_per_core": 32,
                           "inputs": 8, "fan_in": 8})
BRIDGE_RATE = 32000   # bytes/s: 64-byte pieces every 2 ms


@pytest.fixture
def board_server():
    with BackgroundServer(BoardServer("dynapse1", 2), TcpEndpoint("127.0.0.1", 0)) as server:
        yield server


def through(bridge: TcpBridge, **options) -> SerialBoard:
    return SerialBoard(serial.serial_for_url(bridge.url, timeout=POLL_S), name=bridge.url, **options)


@pytest.mark.parametrize("rate, buffer", [(BRIDGE_RATE, 4096), (11400, 1 << 20)],
                         ids=["32kB/s", "11.4kB/s-large-buffers"])
def test_a_clean_slow_bridge_loads_and_the_rate_estimate_falls_to_the_line(board_server, rate, buffer):
    """The host first guesses a line several times faster than the bridge (a 1 Mbaud port):
    answers come late, the window shrinks, the delivery rate falls to what the bridge
    carries, and the line is not taken for a noisy one; nothing much is sent twice."""
    reference = EmulatorChip("dynapse1", 2)
    config, inputs = demo_config(reference), demo_inputs(reference, steps=20)
    reference.load(config)
    with TcpBridge(board_server.url, rate=rate, buffer=buffer) as bridge:
        with through(bridge, baudrate=1_000_000, link_timeout=10) as board:
            board.load(config)
            uploaded = bridge.forwarded[0]
            assert_same_result(board.run(inputs, noise_amplitude=5), reference.run(inputs, noise_amplitude=5))
            line = board.line
    assert uploaded < 1.3 * len(deflate(encode_image(config)))   # what the first guess sent too early, and no more
    assert board.retransmits < 40   # a few while the first guess was too fast (before the fix: thousands); room for a loaded CI machine
    assert line.congestion_events >= 1 and line.byte_error_rate < 1e-4, line.describe()
    assert 0.5 * rate < line.rate < 2 * rate, line.describe()


def test_a_bridge_that_stops_forwarding_raises_link_timeout_naming_rate_rtt_and_what_was_in_flight(board_server):
    config = demo_config(EmulatorChip("dynapse1", 2))
    with TcpBridge(board_server.url, rate=BRIDGE_RATE) as bridge:
        with through(bridge, link_timeout=1.0) as board:
            stalled = False

            def stall_midway(*args, **kwargs):
                nonlocal stalled
                if not stalled and bridge.forwarded[0] > 10000:
                    bridge.stall()
                    stalled = time.monotonic()
                return receive(*args, **kwargs)

            receive, board._session.link.receive = board._session.link.receive, stall_midway
            with pytest.raises(LinkTimeout) as caught:
                board.load(config)
    waited = time.monotonic() - stalled
    assert stalled and waited < 2 * 1.0, f"LinkTimeout {waited:.1f} s after the bridge stalled"
    message = str(caught.value)
    print(f"LinkTimeout {waited:.2f} s after the bridge stalled: {message}")
    assert message.startswith(f"{bridge.url}: no progress on LOAD_DATA for 1.0 s")
    for part in ("bytes delivered; in flight: ", "request(s)", "B on the line", "measured rate ", "kB/s, SRTT ",
                 "RTO ", "window ", "no new byte arrived"):
        assert part in message


def test_one_percent_flipped_bytes_on_a_slow_bridge_complete_bit_identical():
    with BackgroundServer(BoardServer(TINY, 4), TcpEndpoint("127.0.0.1", 0)) as server:
        reference = EmulatorChip(TINY, 4)
        config, inputs = demo_config(reference), demo_inputs(reference, steps=30)
        reference.load(config)
        with TcpBridge(server.url, rate=BRIDGE_RATE, faults=Faults(corrupt=0.01), seed=2) as bridge:
            with through(bridge, link_timeout=10) as board:
                board.load(config)
                run = dict(noise_amplitude=30, noise_seed=9, record_state=True)
                assert_same_result(board.run(inputs, **run), reference.run(inputs, **run))
                assert board.retransmits > 0
                assert 0.003 < board.line.byte_error_rate < 0.03, board.line.describe()


def test_rfc2217_works_as_socket_does_and_takes_the_baud_rate_the_server_reports():
    with BackgroundServer(BoardServer(TINY, 4), TcpEndpoint("127.0.0.1", 0)) as server:
        reference = EmulatorChip(TINY, 4)
        config, inputs = demo_config(reference), demo_inputs(reference, steps=30)
        reference.load(config)
        with TcpBridge(server.url, rfc2217_baudrate=230400) as bridge:
            assert bridge.url.startswith("rfc2217://127.0.0.1:")
            with SerialBoard.open(bridge.url, link_timeout=5) as board:
                assert board._session.link.port.server_baudrate == 230400
                assert 0.5 * 23040 < board.line.rate < 2 * 23040, board.line.describe()   # 10 bits a byte
                board.load(config)
                assert_same_result(board.run(inputs, noise_amplitude=7), reference.run(inputs, noise_amplitude=7))
            with SerialBoard.open(bridge.url, baudrate=9600, link_timeout=5) as board:   # asked for another
                assert board._session.link.port.server_baudrate == 230400


def test_rfc2217_to_a_server_that_does_not_speak_it_is_a_one_line_error():
    with BackgroundServer(BoardServer(TINY, 4), TcpEndpoint("127.0.0.1", 0)) as server:
        url = server.url.replace("socket://", "rfc2217://")
        with pytest.raises(ChipError, match=f"cannot open board at {url}: Remote does not seem to support RFC2217"):
            SerialBoard.open(url, link_timeout=2)
