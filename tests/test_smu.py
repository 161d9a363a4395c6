"""Energy measured with a source-measure unit over VISA (pyvisa-sim, Keithley 2450 SCPI).

The simulated lab puts a virtual board on the simulated SMU's supply (drivers/instruments/
simlab.py): idle windows draw the power model's static power, active windows the board's
power-monitor reading of the inference just run, both with a relative noise. The measured
idle power, dynamic energy and energy per inference agree with the model within that noise.
An SMU without buffered sampling, or one that does not answer, is a clear error naming it.
"""
from __future__ import annotations

import numpy as np
import pytest

from drivers.board_server import BoardServer
from drivers.endpoints import TcpEndpoint
from drivers.instruments import SIM, SIM_SMU, InstrumentError, InstrumentTimeout, SourceMeter, resource_manager
from drivers.instruments.energy_meter import measure_energy
from drivers.instruments.simlab import SimulatedLoad
from drivers.instruments.visa import SIM_PLAIN_SMU, SIM_SILENT
from drivers.serving import BackgroundServer
from drivers.targets import open_chip
from sim.chip.activity import COUNTERS
from tests.chip_factories import random_config, random_inputs

NOISE = 0.02
REPETITIONS = 12


@pytest.fixture
def smu():
    meter = SourceMeter.open(resource_manager(SIM), SIM_SMU)
    meter.source_voltage(1.8, 0.1)
    yield meter
    meter.close()


def test_the_simulated_smu_measures_the_model_energy_within_its_noise(smu):
    rng = np.random.default_rng(3)
    config = random_config(rng, "dynapse1", fill=0.3, p_disabled=0.1, regimes=("active",))
    inputs = random_inputs(rng, 80, 64, rate=0.2)
    with BackgroundServer(BoardServer(chip_seed=4, max_steps=200), TcpEndpoint("127.0.0.1", 0)) as server:
        board = open_chip(server.url, spec="dynapse1", chip_seed=4, link_timeout=5.0)
        try:
            board.load(config)
            runs = []

            def inference() -> float:
                runs.append(board.run(inputs))
                return len(inputs) * config.spec.dt_ms / 1000.0

            load = SimulatedLoad(smu, board, config.spec, noise=NOISE, seed=1)
            measured = measure_energy(smu, inference, samples=20, repetitions=REPETITIONS, load=load).summary()
        finally:
            board.close()
    power = config.spec.power
    counts = {name: float(getattr(runs[0].activity, name)[0]) for name in COUNTERS}
    model = power.energy(counts, 0.080, config.spec.cores)
    static_w = power.static_power_w(config.spec.cores)
    assert all(run.activity.synaptic_events[0] == counts["synaptic_events"] for run in runs)  # deterministic runs
    tolerance = 4 * NOISE / np.sqrt(REPETITIONS)
    assert measured["idle_power_w"]["mean"] == pytest.approx(static_w, rel=tolerance)
    assert measured["energy_per_inference_j"]["mean"] == pytest.approx(model["total_j"], rel=tolerance)
    # dynamic = active - idle: both windows' noise on the static part lands in it
    spread = NOISE * np.hypot(model["total_j"], model["static_j"]) / np.sqrt(REPETITIONS)
    assert abs(measured["dynamic_energy_per_inference_j"]["mean"] - model["dynamic_j"]) < 4 * spread
    assert 0 < measured["energy_per_inference_j"]["stderr"] < 3 * NOISE * model["total_j"] / np.sqrt(REPETITIONS)


def test_an_smu_without_buffered_sampling_is_an_error_naming_it():
    plain = SourceMeter.open(resource_manager(SIM), SIM_PLAIN_SMU)
    plain.source_voltage(1.8, 0.1)
    with pytest.raises(InstrumentError, match=rf"SMU {SIM_PLAIN_SMU} cannot sample current into a buffer .*"
                                              r"':TRAC:CLE \"defbuffer1\"'.*-113"):
        measure_energy(plain, lambda: 0.1, samples=10, repetitions=2)
    plain.close()


def test_an_smu_that_does_not_answer_is_an_error_naming_it():
    silent = SourceMeter.open(resource_manager(SIM), SIM_SILENT, timeout=0.2)
    with pytest.raises(InstrumentTimeout, match=rf"SMU {SIM_SILENT}"):
        measure_energy(silent, lambda: 0.1, samples=10, repetitions=2)
    silent.close()


@pytest.fixture(scope="module")
def saved_network(tmp_path_factory):
    from sim.netfile import save_network
    from tests.networks import random_network
    network = random_network(np.random.default_rng(0), n=24, n_in=1)
    network.meta.update(task="xor", task_meta={"seed": 0, "n_steps": 500}, method="test")
    return save_network(network, tmp_path_factory.mktemp("smu") / "net.npz")


def deploy(saved_network, url, *extra):
    from click.testing import CliRunner

    from harness.cli import main
    result = CliRunner().invoke(main, ["deploy", str(saved_network), "--target", url, "--samples", "2",
                                       "--spec", "dynapse1", *extra])
    assert "Traceback" not in result.output
    return result


def test_deploy_prints_model_monitor_and_smu_energy_on_a_virtual_board(saved_network):
    with BackgroundServer(BoardServer(chip_seed=0, max_steps=1000, power_noise=0.01),
                          TcpEndpoint("127.0.0.1", 0)) as server:
        result = deploy(saved_network, server.url, "--smu", SIM_SMU, "--energy-repetitions", "3")
    assert result.exit_code == 0, result.output
    for expected in ("energy per inference (model, 1.8 V):", "board power monitor, last inference:",
                     f"SMU {SIM_SMU}, 3 repetitions at 1.8 V: idle", "energy per inference (SMU):",
                     "energy per inference (model, same inference):"):
        assert expected in result.output, result.output


@pytest.mark.parametrize("address,message", [
    (SIM_PLAIN_SMU, f"SMU {SIM_PLAIN_SMU} cannot sample current into a buffer"),
    (SIM_SILENT, f"SMU {SIM_SILENT}: no answer"),
])
def test_deploy_with_an_smu_that_cannot_measure_is_an_error_naming_it(saved_network, address, message):
    with BackgroundServer(BoardServer(chip_seed=0, max_steps=1000), TcpEndpoint("127.0.0.1", 0)) as server:
        result = deploy(saved_network, server.url, "--smu", address)
    assert result.exit_code != 0 and message in result.output, result.output
    assert "energy per inference (SMU)" not in result.output


def test_the_simulated_lab_needs_a_virtual_board(saved_network):
    result = deploy(saved_network, "emulator", "--smu", SIM_SMU)
    assert result.exit_code != 0 and "draws a virtual board's power" in result.output, result.output
