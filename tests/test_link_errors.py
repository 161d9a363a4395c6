"""What the host says when things go wrong: another protocol version, garbage, an echo,
silence, an unknown target; port locks on what a URL reaches; runs tied to a configuration."""
import os
import re
import socket
import threading
from typing import Callable

import pytest
import serial

from drivers.board_server import BoardServer
from drivers.chip import ChipError
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.emulator import EmulatorChip
from drivers.endpoints import PtyEndpoint, TcpEndpoint
from drivers.errors import LinkTimeout, PortBusyError, ProtocolVersionError, UnknownTargetError
from drivers.framing import FrameDecoder, encode_frame
from drivers.link import POLL_S
from drivers.portlock import port_key
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from drivers.wire import HEADER, MsgType
from sim.chip.spec import ChipSpec, load_spec

TINY = ChipSpec.from_dict({**load_spec("dynapse1").to_dict(), "name": "tiny", "cores": 1, "neurons_per_core": 32,
                           "inputs": 8, "fan_in": 8})


class Peer:
    """Something on a TCP port that answers whatever arrives with `respond(data)`."""

    def __init__(self, respond: Callable[[bytes], bytes]):
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._sock.getsockname()[1]}"
        self._respond, self._stop = respond, threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._sock.settimeout(5)
        conn, _ = self._sock.accept()
        conn.settimeout(POLL_S)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    return
                conn.sendall(self._respond(data))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def peer():
    peers = []

    def make(respond):
        peers.append(Peer(respond))
        return peers[-1].url

    yield make
    for p in peers:
        p.close()


def old_board(data: bytes, decoder=FrameDecoder()) -> bytes:
    """A board of protocol version 1: answers each request with a version-1 ERROR."""
    answers = []
    for payload in decoder.feed(data):
        _, _, seq, boot = HEADER.unpack_from(payload)
        answers.append(encode_frame(HEADER.pack(1, MsgType.ERROR, seq, boot) + bytes(10)))
    return b"".join(answers)


def open_board(url: str, timeout: float) -> SerialBoard:
    return SerialBoard(serial.serial_for_url(url, timeout=POLL_S), name=url, link_timeout=timeout)


def test_a_protocol_version_mismatch_says_so(peer):
    url = peer(old_board)
    with pytest.raises(ProtocolVersionError, match=rf"^{url}: the board speaks wire protocol version 1; this host "
                                                   rf"speaks version 2: update the board firmware or the harness"):
        open_board(url, 2.0)


def elapsed(error: Exception) -> float:
    return float(re.search(r"for ([\d.]+) s \((\d+) send", str(error)).group(1))


@pytest.mark.parametrize("respond, heard", [
    (lambda data: b"", r"nothing arrived: is the board connected and powered, and is this its port\?"),
    (lambda data: bytes(range(1, 200)) * 2, r"\d+ bytes arrived that are not frames of this protocol: is this a vc1 "
                                            r"board, at the right baud rate\?"),
    (lambda data: data, r"the host's own requests came back: a loopback, or a terminal echoing, not a board"),
], ids=["silence", "garbage", "echo"])
def test_no_answer_says_for_how_long_how_often_and_what_arrived(peer, respond, heard):
    url = peer(respond)
    with pytest.raises(LinkTimeout, match=rf"^{url}: no answer to HELLO for [\d.]+ s \(\d+ send\(s\), "
                                          rf"link timeout 0.8 s\); {heard}") as caught:
        open_board(url, 0.8)
    assert 0.8 <= elapsed(caught.value) < 2.0
    assert int(re.search(r"\((\d+) send", str(caught.value)).group(1)) > 1


def test_an_unknown_target_scheme_is_a_one_line_error():
    with pytest.raises(UnknownTargetError, match=r"^unknown target 'bogus://x': no 'bogus' scheme; use 'emulator', "
                                                 r"emulator://SPEC\?seed=S&mismatch=M, sim://SPEC\?mismatch=M, a device "
                                                 r"path \(/dev/ttyACM0\) or a URL of scheme socket://"):
        open_chip("bogus://x")
    assert issubclass(UnknownTargetError, ChipError)


def test_locks_follow_what_a_url_reaches_not_its_text(tmp_path):
    assert port_key("socket://localhost:5000") == port_key("socket://127.0.0.1:5000")
    assert port_key("socket://localhost:5000") != port_key("socket://localhost:5001")
    device = tmp_path / "ttyACM0"
    device.touch()
    os.symlink(device, tmp_path / "alias")        # what socat's link=... makes
    assert port_key(str(tmp_path / "alias")) == port_key(str(device)) == port_key(f"spy://{device}?raw")
    with BackgroundServer(BoardServer(TINY), TcpEndpoint("127.0.0.1", 0)) as server:
        port = server.endpoint.port
        with SerialBoard.open(f"socket://127.0.0.1:{port}", link_timeout=2.0):
            with pytest.raises(PortBusyError, match=f"socket://localhost:{port} is in use by another client"):
                SerialBoard.open(f"socket://localhost:{port}", link_timeout=2.0)


def test_a_run_names_its_configuration_and_a_replaced_one_is_reloaded():
    """Another host replaced the configuration between two runs: the board refuses the run
    (RUN_BEGIN carries the checksum), and this host loads its own again and runs."""
    with BackgroundServer(BoardServer(TINY, 8), PtyEndpoint()) as server:
        board = open_board(server.url, 3.0)
        config, inputs = demo_config(board), demo_inputs(board)
        reference = EmulatorChip(TINY, 8)
        reference.load(config)
        board.load(config)
        server.server.chip.load(demo_config(board, seed=5))    # behind the host's back
        server.server._checksum ^= 1
        assert_same_result(board.run(inputs), reference.run(inputs))
        assert board.resets_seen == 1
        board.close()
