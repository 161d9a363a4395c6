"""VISA instruments against pyvisa-sim and drivers/instruments/instruments.yaml."""
import time

import pytest
from click.testing import CliRunner

from drivers.instruments import (SIM, SIM_MULTIMETER, SIM_SUPPLY, InstrumentError, InstrumentTimeout, Multimeter,
                                 PowerSupply, Reading, resource_manager)
from drivers.instruments.visa import SIM_SILENT
from harness.cli import main


@pytest.fixture
def manager():
    rm = resource_manager(SIM)
    yield rm
    rm.close()


def test_supply_sets_and_reads_voltage_and_current_limit(manager):
    with PowerSupply.open(manager, SIM_SUPPLY) as supply:
        assert "supply" in supply.identify()
        supply.set_voltage(3.3)
        supply.set_current_limit(0.25)
        assert supply.voltage() == Reading("voltage setpoint", 3.3, "V")
        assert supply.current_limit() == Reading("current limit", 0.25, "A")
        current = supply.measure_current()
        assert current.unit == "A" and current.value == pytest.approx(0.01234)
        supply.set_output(True)
        assert supply.output()


def test_multimeter_readings_carry_units(manager):
    with Multimeter.open(manager, SIM_MULTIMETER) as dmm:
        reading = dmm.measure_voltage_dc()
        assert reading.unit == "V" and reading.value == pytest.approx(1.79982)
        assert str(dmm.measure_current_dc()).endswith(" A")
        assert dmm.measure_resistance().unit == "Ohm"


def test_refused_setting_is_a_clear_error(manager):
    with PowerSupply.open(manager, SIM_SUPPLY) as supply:
        with pytest.raises(InstrumentError, match=r"rejected 'VOLT 50.0000': -222,\"Data out of range\""):
            supply.set_voltage(50)


def test_silent_instrument_times_out_clearly(manager):
    with PowerSupply.open(manager, SIM_SILENT, timeout=0.2) as supply:
        start = time.monotonic()
        with pytest.raises(InstrumentTimeout, match=r"no answer to '\*IDN\?' within 0.2 s"):
            supply.identify()
        assert time.monotonic() - start < 1.0


def test_missing_simulation_file_is_a_clear_error(tmp_path):
    with pytest.raises(InstrumentError, match="cannot open VISA backend"):
        resource_manager(f"{tmp_path / 'none.yaml'}@sim")


def test_cli_reads_and_sets():
    runner = CliRunner()
    result = runner.invoke(main, ["instruments", "--instruments", "sim", "read"])
    assert result.exit_code == 0, result.output
    assert "current 0.01234 A" in result.output and "DC voltage 1.79982 V" in result.output
    result = runner.invoke(main, ["instruments", "set-voltage", "5"])
    assert result.exit_code == 0 and "voltage setpoint 5 V" in result.output
    result = runner.invoke(main, ["instruments", "set-voltage", "99"])
    assert result.exit_code != 0 and "Data out of range" in result.output and "Traceback" not in result.output


def test_supply_scaled_codes_are_the_nearest_in_range():
    """A scaled bias is re-encoded as the nearest code within its range, as the compiler
    encodes biases (`sim.chip.dac.nearest_code`), never rounding past the top."""
    import numpy as np  # noqa: PLC0415
    from sim.chip.dac import dac_value  # noqa: PLC0415
    from sim.chip.supply import _scaled_codes  # noqa: PLC0415
    top = np.array([[255, 8]])  # 65280, the largest dmem code; x1.004 is 65541 > 65535
    assert dac_value(*_scaled_codes(top, 1.004, (1, 65535), signed=False)[0]) == 65280
    idc = np.array([[200, 0, 1]])  # -200, doubled: -400, nearest is 200 x 2**1
    np.testing.assert_array_equal(_scaled_codes(idc, 2.0, (-1000, 1000), signed=True)[0], [200, 1, 1])
