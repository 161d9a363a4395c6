"""The serial driver end to end: the real `harness emulate` CLI, exclusive ports, targets, `harness boards`."""
import select
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from drivers.board_server import BoardServer
from drivers.chip import ChipError
from drivers.conformance import assert_same_result, demo_config, demo_inputs
from drivers.endpoints import PtyEndpoint, TcpEndpoint
from drivers.portlock import PortBusyError
from drivers.serial_board import SerialBoard
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from harness.cli import main

CLI = [sys.executable, "-c", "from harness.cli import main; main()"]
HANG_S = 60  # a bound only a hang reaches, also on a loaded 2-core machine


def start_emulator(*args: str) -> tuple[subprocess.Popen, str]:
    """`harness emulate ARGS` as a subprocess; returns it and the first line it prints."""
    proc = subprocess.Popen([*CLI, "emulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not select.select([proc.stdout], [], [], HANG_S)[0]:
        stop(proc)
        raise AssertionError(f"harness emulate printed nothing within {HANG_S} s")
    line = proc.stdout.readline().strip()
    if not line:
        stop(proc)
        raise AssertionError(f"harness emulate failed: {proc.stderr.read()}")
    return proc, line


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_identical_rasters_in_process_over_pty_cli_and_over_tcp_cli():
    options = ["--chip-seed", "42", "--mismatch", "0.2"]
    pty_proc, pty_path = start_emulator("--pty", *options)
    tcp_proc = None
    try:
        tcp_proc, tcp_url = start_emulator("--listen", "127.0.0.1:0", *options)
        assert pty_path.startswith("/dev/") and tcp_url.startswith("socket://127.0.0.1:")
        local = open_chip("emulator", chip_seed=42, mismatch="0.2")
        config, inputs = demo_config(local), demo_inputs(local, steps=60)
        local.load(config)
        expected = local.run(inputs, noise_amplitude=25, noise_seed=8)
        assert expected.spikes.sum() > 0
        for url in (pty_path, tcp_url):
            with open_chip(url) as board:
                assert board.identity().chip_id == "seed:42" and board.identity().mismatch == "0.2"
                board.load(config)
                assert_same_result(board.run(inputs, noise_amplitude=25, noise_seed=8), expected)
    finally:
        codes = [stop(p) for p in (pty_proc, tcp_proc) if p is not None]
    assert codes == [0, 0], "SIGTERM should stop harness emulate cleanly"


def test_emulate_drops_an_idle_client_after_its_idle_timeout():
    proc, url = start_emulator("--listen", "127.0.0.1:0", "--idle-timeout", "0.5")
    try:
        host, port = url.removeprefix("socket://").split(":")
        with socket.create_connection((host, int(port))) as idle:
            idle.settimeout(5)
            start = time.monotonic()
            assert idle.recv(4096) == b""          # nothing said: hung up after the idle timeout
            assert time.monotonic() - start < 4
        with open_chip(url) as board:
            assert board.identity().chip_id == "seed:0"
    finally:
        assert stop(proc) == 0


def test_emulate_needs_exactly_one_endpoint():
    result = CliRunner().invoke(main, ["emulate"])
    assert result.exit_code != 0 and "exactly one of --pty or --listen" in result.output
    result = CliRunner().invoke(main, ["emulate", "--listen", "nohost"])
    assert result.exit_code != 0 and "is not HOST:PORT" in result.output


@pytest.fixture(params=["pty", "socket"])
def board_url(request):
    endpoint = PtyEndpoint() if request.param == "pty" else TcpEndpoint("127.0.0.1", 0)
    with BackgroundServer(BoardServer(chip_seed=1), endpoint) as server:
        yield server.url


def test_a_board_is_opened_exclusively(board_url):
    with SerialBoard.open(board_url, link_timeout=1.0):
        with pytest.raises(PortBusyError, match="in use"):
            SerialBoard.open(board_url, link_timeout=1.0)
        probe = subprocess.run([*CLI, "boards", "--probe", board_url, "--timeout", "0.3"],
                               capture_output=True, text=True, timeout=30)
        assert "in use" in probe.stdout   # another process is refused too
    with SerialBoard.open(board_url, link_timeout=1.0) as again:   # released on close
        assert again.identity().chip_id == "seed:1"


def test_open_chip_checks_the_board_spec(board_url):
    with pytest.raises(ChipError, match="is a dynapse1 .* not dense1k"):
        open_chip(board_url, spec="dense1k")
    with open_chip(board_url) as board:     # the failed open released the port
        assert board.identity().spec_name == "dynapse1"


def test_nothing_listening_is_a_clear_error():
    endpoint = TcpEndpoint("127.0.0.1", 0)
    endpoint.close()
    with pytest.raises(ChipError, match=f"cannot open board at {endpoint.url}.*refused"):
        open_chip(endpoint.url)


def test_boards_command_identifies_boards_and_instruments(board_url):
    result = CliRunner().invoke(main, ["boards", "--probe", board_url, "--instruments", "sim", "--timeout", "0.3"])
    assert result.exit_code == 0, result.output
    assert f"{board_url}  [probed]  board seed:1: dynapse1 (vc1)" in result.output
    assert "ASRL1::INSTR  SNN-HIL,VPS-3005" in result.output
    assert "ASRL9::INSTR  no answer" in result.output
