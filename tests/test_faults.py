"""The serial driver under injected faults: noisy line, dead link, board reset, unplug.

Results are compared as the harness compares targets: the board as a population
(`ChipByChip.for_board`) against the batched simulator (`SimulatedPopulation`) on the same
trials; the tests of the link alone (timeouts, a vanished port, the fault injector) talk to
the board directly.
"""
import socket
import time

import numpy as np
import pytest
import serial

from drivers.board_server import BoardServer
from drivers.bridge import TcpBridge
from drivers.chip import ChipError
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.endpoints import PtyEndpoint
from drivers.errors import BoardResetError, LinkError, LinkTimeout
from drivers.faults import FaultyPort, Faults
from drivers.link import POLL_S
from drivers.population import ChipByChip, SimulatedPopulation
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from sim.chip.spec import ChipSpec, load_spec

TINY = ChipSpec.from_dict({**load_spec("dynapse1").to_dict(), "name": "tiny", "cores": 1, "neurons_per_core": 32,
                           "inputs": 8, "fan_in": 8})
SEED = 5


@pytest.fixture
def server():
    with BackgroundServer(BoardServer(TINY, SEED), PtyEndpoint()) as background:
        yield background


@pytest.fixture
def open_board(server):
    boards = []

    def make(faults=Faults(), **options):
        port = FaultyPort(serial.serial_for_url(server.url, timeout=POLL_S), faults, seed=len(boards))
        board = SerialBoard(port, name=server.url, **{"link_timeout": 3.0, **options})
        boards.append(board)
        return board, port

    yield make
    for board in boards:
        board.close()


def trials(inputs, noise_seeds):
    """One trial of `inputs` per noise seed, all on chip SEED (the board's)."""
    return dict(inputs=np.stack([inputs] * len(noise_seeds)), chip_seeds=[SEED] * len(noise_seeds),
                noise_seeds=noise_seeds)


def assert_board_matches_simulator(population, config, trial, **run):
    """The board, as `population` (which loads `config` on first use), gives the simulator's
    bits on `trial`."""
    on_board = population.run(config, **trial, **run)
    assert_same_result(SimulatedPopulation("spec", "numpy").run(config, **trial, **run), on_board,
                       labels=("the simulator", "the board"), where=f"{len(trial['chip_seeds'])} trials {run}")
    return on_board


def test_noisy_line_still_gives_bit_identical_results(open_board):
    board, port = open_board(Faults(corrupt=0.01, drop=0.003, duplicate=0.003, delay=0.05))
    config, inputs = demo_config(board), demo_inputs(board, steps=50)
    trial = trials(inputs, noise_seeds=[3, 4])
    assert_board_matches_simulator(ChipByChip.for_board(board, SEED), config, trial, noise_amplitude=[30, 0])
    assert board.retransmits > 0, "the faults should have forced retransmissions"


def test_dead_link_times_out_within_the_configured_time(open_board):
    board, port = open_board(link_timeout=0.5)
    config = demo_config(board)
    board.load(config)
    port.kill()
    start = time.monotonic()
    with pytest.raises(LinkTimeout, match=r"no answer to RUN_BEGIN for 0.5 s \(\d+ send\(s\), link timeout 0.5 s\); nothing arrived") as caught:
        board.run(demo_inputs(board))
    assert time.monotonic() - start < 0.5 + 0.3
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, ChipError)


def test_board_reset_mid_run_is_reloaded_and_rerun(open_board, server):
    board, port = open_board()
    population = ChipByChip.for_board(board, SEED)
    config, trial = demo_config(board), trials(demo_inputs(board, steps=60), noise_seeds=[0])
    assert_board_matches_simulator(population, config, trial)   # loads the configuration
    port.arm_reset(server.server.reboot, after_writes=2)   # RUN_BEGIN, RUN_DATA, then reset
    assert_board_matches_simulator(population, config, trial, noise_amplitude=9)
    assert board.resets_seen == 1
    assert_board_matches_simulator(population, config, trial)


def test_board_reset_mid_run_raises_when_asked_to(open_board, server):
    board, port = open_board(on_reset="raise")
    config, inputs = demo_config(board), demo_inputs(board)
    board.load(config)
    port.arm_reset(server.server.reboot, after_writes=2)
    with pytest.raises(BoardResetError, match="the board reset .* lost its configuration"):
        board.run(inputs)
    board.load(config)   # the session re-synchronised: loading again works
    assert_board_matches_simulator(ChipByChip.for_board(board, SEED), config, trials(inputs, noise_seeds=[0]))


def test_vanished_port_is_a_clear_error(open_board):
    board, port = open_board()
    board.load(demo_config(board))
    port.arm_vanish()
    with pytest.raises(LinkError, match="vanished"):
        board.run(demo_inputs(board))


def test_faulty_port_is_deterministic_and_applies_faults():
    class Sink:
        def __init__(self):
            self.data = b""

        def write(self, data):
            self.data += data

    outputs = []
    for _ in range(2):
        sink = Sink()
        FaultyPort(sink, Faults(corrupt=0.05, drop=0.05, duplicate=0.05), seed=1).write(bytes(range(256)) * 8)
        outputs.append(sink.data)
    assert outputs[0] == outputs[1] and outputs[0] != bytes(range(256)) * 8
    assert np.count_nonzero(np.frombuffer(outputs[0][:1000], np.uint8) != np.frombuffer((bytes(range(256)) * 8)[:1000], np.uint8)) > 0


def test_faulty_port_paces_the_line_at_its_rate():
    class Wire:
        in_waiting = 0

        def __init__(self):
            self.data = b""

        def write(self, data):
            self.data += data

    wire = Wire()
    port = FaultyPort(wire, Faults(rate=20000))
    start = time.monotonic()
    port.write(b"x" * 1000)      # 50 ms of line
    port.write(b"y" * 1000)      # queued behind it: 100 ms in all
    assert wire.data == b""
    while len(wire.data) < 2000 and time.monotonic() - start < 5:
        port.in_waiting          # noqa: B018 - polling the port moves the line along
        time.sleep(0.005)
    assert wire.data == b"x" * 1000 + b"y" * 1000
    assert time.monotonic() - start >= 0.1


def test_bridge_paces_at_its_rate_and_a_stalled_bridge_forwards_nothing():
    """`drivers.bridge.TcpBridge` (a serial server's pacing and small buffers, used by the
    link tests): bytes arrive whole, in order, at the bridge's rate; stalled, none pass."""
    sink = socket.create_server(("127.0.0.1", 0))
    board_url = f"socket://127.0.0.1:{sink.getsockname()[1]}"
    with TcpBridge(board_url, rate=20000, piece=64, buffer=4096) as bridge, sink:
        client = socket.create_connection(("127.0.0.1", int(bridge.url.rsplit(":", 1)[1])))
        board, _ = sink.accept()
        board.settimeout(0.2)

        def receive(count: int, within: float) -> bytes:
            data, give_up = b"", time.monotonic() + within
            while len(data) < count and time.monotonic() < give_up:
                try:
                    data += board.recv(65536)
                except socket.timeout:
                    pass
            return data

        start = time.monotonic()
        client.sendall(bytes(range(256)) * 16)        # 4096 bytes: 205 ms of line at 20 kB/s
        assert receive(4096, within=5) == bytes(range(256)) * 16
        assert time.monotonic() - start >= 0.8 * 4096 / 20000
        bridge.stall()
        client.sendall(b"held")
        assert receive(4, within=0.3) == b""
        bridge.resume()
        assert receive(4, within=5) == b"held"
        client.close()
        board.close()
