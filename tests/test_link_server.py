"""The virtual board's server: it survives whatever a run or a client does, drops idle
clients and tells a second client that the board is busy."""
import socket
import time

import pytest
import serial

from drivers.board_server import BoardServer
from drivers.chip import ChipError
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.emulator import EmulatorChip
from drivers.endpoints import TcpEndpoint
from drivers.errors import BoardBusyError
from drivers.framing import encode_frame
from drivers.link import POLL_S
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from drivers.wire import Message, MsgType, encode_message
from sim.chip.spec import ChipSpec, load_spec

TINY = ChipSpec.from_dict({**load_spec("dynapse1").to_dict(), "name": "tiny", "cores": 1, "neurons_per_core": 32,
                           "inputs": 8, "fan_in": 8})


def connect(url: str, **options) -> SerialBoard:
    """A client without the host-side port lock, as a second machine would be."""
    return SerialBoard(serial.serial_for_url(url, timeout=POLL_S), name=url, link_timeout=2.0, **options)


def serve_tcp(idle_timeout: float = 60.0) -> BackgroundServer:
    return BackgroundServer(BoardServer(TINY, 6), TcpEndpoint("127.0.0.1", 0), idle_timeout=idle_timeout)


@pytest.fixture
def tcp_board():
    with serve_tcp() as server:
        yield server


def expected(config, inputs):
    chip = EmulatorChip(TINY, 6)
    chip.load(config)
    return chip.run(inputs)


def test_an_exception_inside_a_run_is_reported_and_the_server_serves_the_next_client(tcp_board, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise MemoryError("state arrays do not fit")

    with connect(tcp_board.url) as board:
        config, inputs = demo_config(board), demo_inputs(board)
        board.load(config)
        monkeypatch.setattr(tcp_board.server.chip, "run", out_of_memory)
        with pytest.raises(ChipError, match="board refused RUN_START: the run failed on the board: "
                                            "MemoryError: state arrays do not fit"):
            board.run(inputs)
        monkeypatch.undo()
        assert_same_result(board.run(inputs), expected(config, inputs))   # the same client goes on
    with connect(tcp_board.url) as board:                                 # and so does the next one
        board.load(config)
        assert_same_result(board.run(inputs), expected(config, inputs))


def test_an_exception_escaping_a_request_drops_only_that_client(tcp_board, monkeypatch):
    def broken(payload):
        raise RuntimeError("bug in the board")

    monkeypatch.setattr(tcp_board.server, "handle", broken)
    with pytest.raises(ChipError):
        connect(tcp_board.url)
    monkeypatch.undo()
    with connect(tcp_board.url) as board:
        assert board.identity().chip_id == "seed:6"


def test_a_second_client_is_told_the_board_is_busy(tcp_board):
    with connect(tcp_board.url) as first:
        start = time.monotonic()
        with pytest.raises(BoardBusyError, match="the board is busy serving another client"):
            connect(tcp_board.url)
        assert time.monotonic() - start < 1.5, "busy must be said at once, not after a timeout"
        first.load(demo_config(first))       # the first client was not disturbed


def test_an_idle_client_is_dropped_so_that_the_next_one_is_served():
    with serve_tcp(idle_timeout=0.6) as tcp_board, \
            socket.create_connection((tcp_board.endpoint.host, tcp_board.endpoint.port)) as idle:
        idle.sendall(encode_frame(encode_message(Message(MsgType.HELLO, 1, 0))))
        idle.settimeout(5)
        assert idle.recv(4096)                     # served: it holds the board, then says nothing
        start = time.monotonic()
        while idle.recv(4096):                     # (the rest of the answer) ... until the server hangs up
            pass
        assert 0.3 < time.monotonic() - start < 4, "the server should close a connection silent for 0.6 s"
        with connect(tcp_board.url) as board:
            assert board.identity().chip_id == "seed:6"
