"""The board farm in a box: N virtual boards on N ports, anonymous boards that pose as
physical chips, emulated defects, and the command's one-line errors."""
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from drivers.board_server import BoardServer, serial_number
from drivers.conformance import demo_config, demo_inputs
from drivers.defects import Defect, DefectiveChip, parse_defect
from drivers.emulator import EmulatorChip
from drivers.endpoints import TcpEndpoint
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from harness.cli import main
from tests.test_link_server import TINY, connect


@pytest.mark.parametrize("args, message", [
    (["--farm", "0", "--listen", "127.0.0.1:0"], "--farm 0: a farm serves at least 1 board"),
    (["--farm", "2", "--listen", "127.0.0.1:0", "--defect", "dead:2"], "the fraction 2 is not in [0, 1]"),
    (["--farm", "2", "--listen", "127.0.0.1:0", "--defect", "banana:0.1"], "expected dead:F or stuck:F"),
    (["--farm", "2", "--pty"], "give --listen HOST:0"),
    (["--listen", "127.0.0.1:0", "--first-seed", "3"], "--first-seed is for a farm"),
])
def test_bad_farm_options_are_one_line_errors_exit_2(args, message):
    result = CliRunner().invoke(main, ["emulate", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_an_anonymous_board_identifies_as_a_physical_chip_that_hides_its_seed():
    with BackgroundServer(BoardServer(TINY, 1234, anonymous=True), TcpEndpoint("127.0.0.1", 0)) as server:
        with connect(server.url) as board:
            identity = board.identity()
    assert identity.chip_id == serial_number(1234) and "1234" not in identity.chip_id
    assert identity.mismatch == "physical" and identity.chip_seed is None and not identity.emulated
    assert serial_number(1234) != serial_number(1235)


def test_defects_follow_the_seed_and_are_not_in_the_identity():
    assert parse_defect("dead:0.25") == Defect("dead", 0.25)
    dead = Defect("dead", 0.25)
    assert np.array_equal(dead.neurons(7, 32), dead.neurons(7, 32)) and dead.neurons(7, 32).size == 8
    assert not np.array_equal(dead.neurons(7, 32), dead.neurons(8, 32))
    chip = DefectiveChip(TINY, 7, "spec", Defect("stuck", 0.25))
    assert chip.identity() == EmulatorChip(TINY, 7).identity()
    config, inputs = demo_config(chip), demo_inputs(chip)
    chip.load(config)
    stuck = chip.run(inputs).spikes[:, Defect("stuck", 0.25).neurons(7, 32)]
    assert stuck.all()                                   # every step


def test_a_dead_board_never_fires_its_dead_neurons_and_differs_from_its_twin():
    defect = Defect("dead", 0.5)
    with BackgroundServer(BoardServer(TINY, 7, defect=defect), TcpEndpoint("127.0.0.1", 0)) as server:
        with connect(server.url) as board:
            assert board.identity().chip_id == "seed:7"   # nothing about the defect
            config, inputs = demo_config(board), demo_inputs(board)
            board.load(config)
            spikes = board.run(inputs).spikes
    twin = EmulatorChip(TINY, 7)
    twin.load(config)
    healthy = twin.run(inputs).spikes
    dead = defect.neurons(7, 32)
    assert not spikes[:, dead].any() and healthy[:, dead].any()


def test_the_farm_serves_n_boards_one_url_per_line():
    process = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", "emulate", "--farm", "2",
                                "--anonymous", "--listen", "127.0.0.1:0", "--first-seed", "40"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        urls = [process.stdout.readline().strip() for _ in range(2)]
        assert all(u.startswith("socket://127.0.0.1:") for u in urls) and len(set(urls)) == 2
        ids = []
        for url in urls:
            chip = open_chip(url, spec="dynapse1")
            ids.append(chip.identity().chip_id)
            chip.close()
        assert ids == [serial_number(40), serial_number(41)]
    finally:
        process.terminate()
        process.wait(timeout=60)  # the farm allows each board 5 s to stop; 60 s: only a hang


@pytest.mark.parametrize("noise", [0, 40])
def test_the_simulator_engine_is_the_emulator_bit_for_bit(noise):
    from drivers.conformance import assert_same_result
    from drivers.simulated_chip import SimulatedChip
    emulator, simulated = EmulatorChip(TINY, 9), SimulatedChip(TINY, 9)
    config, inputs = demo_config(emulator), demo_inputs(emulator)
    for chip in (emulator, simulated):
        chip.load(config)
    options = dict(noise_amplitude=noise, noise_seed=3, record_state=True)
    assert_same_result(emulator.run(inputs, **options), simulated.run(inputs, **options))
    with BackgroundServer(BoardServer(TINY, 9, engine="simulator"), TcpEndpoint("127.0.0.1", 0)) as server:
        with connect(server.url) as board:
            board.load(config)
            assert_same_result(emulator.run(inputs, **options), board.run(inputs, **options))
