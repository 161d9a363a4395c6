"""The chip power model of the spec (docs/chip-spec.md, "Power model")."""
from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from harness.cli import main
from sim.chip.power import EVENT_ENERGIES, POWER_FIELDS
from sim.chip.spec import BUILTIN_SPECS, SpecError, load_spec
from tests.chip_factories import POWER_TOML, spec_toml

COUNTS = {"spike_count": 1000, "synaptic_events": 20000, "input_events": 500, "routed_events": 1500}


@pytest.mark.parametrize("name", BUILTIN_SPECS)
def test_shipped_specs_carry_a_power_model(name):
    power = load_spec(name).power
    assert power is not None and power.nominal_supply_v == 1.8
    assert all(getattr(power, field) > 0 for field in POWER_FIELDS)


def test_energy_is_events_times_their_energies_plus_static_power():
    power = load_spec("dynapse1").power
    energy = power.energy(COUNTS, seconds=2.0, cores=4)
    dynamic = sum(COUNTS[name] * getattr(power, field) for name, field in EVENT_ENERGIES.items())
    assert math.isclose(energy["dynamic_j"], dynamic) and math.isclose(energy["static_j"], 4 * 100e-6 * 2.0)
    assert math.isclose(energy["total_j"], dynamic + 8e-4)


def test_supply_scales_dynamic_energy_as_v_squared_and_static_power_with_leakage():
    power = load_spec("dynapse1").power
    nominal, low, high = (power.energy(COUNTS, 1.0, 4, volts) for volts in (1.8, 1.62, 1.98))
    assert math.isclose(low["dynamic_j"], nominal["dynamic_j"] * 0.81)
    assert math.isclose(high["dynamic_j"], nominal["dynamic_j"] * 1.21)
    assert math.isclose(high["static_j"], nominal["static_j"] * 1.1 * math.exp(0.18 / 0.3))
    assert low["static_j"] < nominal["static_j"] < high["static_j"]


def power_spec(tmp_path, replace: dict[str, str]):
    text = spec_toml("mine", cores=2, neurons_per_core=4, inputs=3, fan_in=4)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("field,line,message", [
    ("energy_per_spike_j", "energy_per_spike_j = -883e-12", "field power.energy_per_spike_j must be >= 0"),
    ("energy_per_synaptic_event_j", "", "missing field power.energy_per_synaptic_event_j"),
    ("static_power_per_core_w", 'static_power_per_core_w = "lots"', "field power.static_power_per_core_w must be a"),
    ("nominal_supply_v", "nominal_supply_v = 0", "field power.nominal_supply_v must be > 0"),
])
def test_a_bad_energy_value_is_a_one_line_error_naming_the_field(tmp_path, field, line, message):
    original = next(row for row in POWER_TOML.splitlines() if row.startswith(field))
    path = power_spec(tmp_path, {original: line})
    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        load_spec(path)
    result = CliRunner().invoke(main, ["chip", "info", str(path)])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_spec_without_a_power_table_has_no_power_model(tmp_path):
    path = power_spec(tmp_path, {POWER_TOML: ""})
    assert load_spec(path).power is None
    assert "power model      none" in CliRunner().invoke(main, ["chip", "info", str(path)]).output


def test_chip_info_prints_the_power_model():
    output = CliRunner().invoke(main, ["chip", "info"]).output
    assert "per spike 883 pJ" in output and "static 100 uW/core" in output
