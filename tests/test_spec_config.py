"""Chip specs as data, DAC codes, configurations and their files (CHIP_SPEC §1–2, §6)."""
from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.emulator import EmulatorChip
from sim.chip.config import ARRAY_FIELDS, EMPTY, ChipConfig
from sim.chip.dac import dac_code, dac_value
from sim.chip.spec import ChipSpec, load_spec
from tests.chip_factories import configs, make_spec, random_config, spec_toml


def test_dynapse1_geometry():
    spec = load_spec("dynapse1")
    assert (spec.name, spec.spec_version, spec.cores, spec.neurons_per_core, spec.inputs, spec.fan_in,
            spec.dt_ms) == ("dynapse1", "vc1", 4, 256, 64, 64, 1.0)
    assert spec.n_neurons == 1024 and spec.n_sources == 1088
    assert spec.core_of(255) == 0 and spec.core_of(256) == 1 and spec.core_of(1023) == 3


def test_dense1k_is_dynapse1_without_the_cam_limit():
    dense, sparse = load_spec("dense1k"), load_spec("dynapse1")
    assert dense.fan_in == dense.inputs + dense.n_neurons == 1088
    assert {k: v for k, v in dense.to_dict().items() if k not in ("name", "fan_in")} == \
        {k: v for k, v in sparse.to_dict().items() if k not in ("name", "fan_in")}


def test_user_spec_files_toml_and_json(tmp_path):
    cv = {"dmem": 0.1, "theta": 0.2, "idc": 0.3, "dsyn": 0.4, "wsyn_fast": 0.5, "wsyn_slow": 0.6}
    toml = tmp_path / "small.toml"
    toml.write_text(spec_toml("small", cores=3, neurons_per_core=5, inputs=7, fan_in=9, mismatch_cv=cv))
    spec = load_spec(toml)
    assert (spec.cores, spec.neurons_per_core, spec.inputs, spec.fan_in) == (3, 5, 7, 9)
    assert spec.mismatch_cv == cv and spec.n_neurons == 15 and spec.n_sources == 22
    js = tmp_path / "small.json"
    js.write_text(json.dumps(spec.to_dict()))
    assert load_spec(js) == spec
    assert load_spec(str(toml)) == spec and load_spec(spec) is spec
    assert ChipSpec.from_dict(spec.to_dict()) == spec
    # a user spec runs on the emulator
    chip = EmulatorChip(toml, chip_seed=3)
    chip.load(ChipConfig.empty(spec))
    assert chip.run(np.zeros((4, 7), np.uint8)).spikes.shape == (4, 15)
    assert chip.identity().spec_name == "small" and chip.identity().spec_version == "vc1"


def test_builtin_toml_files_round_trip_through_user_files(tmp_path):
    for name in ("dynapse1", "dense1k"):
        spec = load_spec(name)
        path = tmp_path / f"{name}.toml"
        path.write_text(spec_toml(name, cores=spec.cores, neurons_per_core=spec.neurons_per_core,
                                  inputs=spec.inputs, fan_in=spec.fan_in, mismatch_cv=spec.mismatch_cv))
        assert load_spec(path) == spec


# ---- DAC ------------------------------------------------------------------------------------------
def test_dac_values():
    assert int(dac_value(0, 0)) == 0 and int(dac_value(1, 0)) == 1
    assert int(dac_value(255, 15)) == 255 * 2**15 == 8355840
    assert int(dac_value(164, 4)) == 2624 and int(dac_value(100, 2, 1)) == -400
    assert int(dac_value(0, 5, 1)) == 0
    np.testing.assert_array_equal(dac_value(np.array([1, 2, 3]), np.array([0, 1, 2]), np.array([0, 1, 0])),
                                  [1, -4, 12])


@settings(max_examples=200, deadline=None)
@given(fine=st.integers(0, 255), coarse=st.integers(0, 15), negative=st.booleans())
def test_dac_code_inverts_dac_value(fine, coarse, negative):
    value = (-1 if negative else 1) * (fine << coarse)
    f, c, neg = dac_code(value)
    assert int(dac_value(f, c, neg)) == value
    assert 0 <= f <= 255 and 0 <= c <= 15


@settings(max_examples=200, deadline=None)
@given(value=st.floats(-(2**23), 2**23))
def test_dac_code_is_the_closest_code(value):
    f, c, neg = dac_code(value)
    got = int(dac_value(f, c, neg))
    best = min(abs(abs(value) - (ff << cc)) for cc in range(16) for ff in (min(255, int(abs(value)) >> cc),
                                                                            min(255, (int(abs(value)) >> cc) + 1)))
    assert abs(abs(got) - abs(value)) <= best + 1e-9
    assert got == 0 or (got < 0) == (value < 0)


# ---- configuration ----------------------------------------------------------------------------------
def test_empty_config_is_valid_and_silent():
    for name in ("dynapse1", "dense1k"):
        spec = load_spec(name)
        config = ChipConfig.empty(spec).validate()
        assert config.cam_source.shape == (1024, spec.fan_in) and (config.cam_source == EMPTY).all()
        assert config.enabled.all() and not config.weight_counts().any()


def test_nominal_values_per_core():
    config = ChipConfig.empty(load_spec("dynapse1"))
    config.dmem[:] = [(1, 0), (255, 8), (16, 8), (3, 4)]
    config.theta[2] = (255, 15)
    config.idc[:] = [(10, 1, 0), (10, 1, 1), (0, 0, 1), (255, 7, 1)]
    config.t_ref[:] = [0, 1, 254, 255]
    config.dsyn[1, 3] = (7, 3)
    config.wsyn[3, 2] = (255, 7)
    nominal = config.validate().nominal()
    assert list(nominal["dmem"]) == [1, 65280, 4096, 48]
    assert nominal["theta"][2] == 8355840 and nominal["theta"][0] == 128 << 8
    assert list(nominal["idc"]) == [20, -20, 0, -32640]
    assert list(nominal["t_ref"]) == [0, 1, 254, 255]
    assert nominal["dsyn"].shape == (4, 4) and nominal["dsyn"][1, 3] == 56 and nominal["dsyn"][0, 0] == 164 << 4
    assert nominal["wsyn"][3, 2] == 32640


def test_weight_counts_count_slots():
    spec = make_spec("w", cores=1, neurons_per_core=3, inputs=2, fan_in=5)
    config = ChipConfig.empty(spec)
    config.cam_source[0] = [1, 1, 3, EMPTY, 1]
    config.cam_type[0] = [0, 0, 2, 3, 1]
    config.cam_source[2] = [4, EMPTY, EMPTY, EMPTY, 0]
    config.cam_type[2] = [3, 1, 1, 1, 3]
    w = config.validate().weight_counts()
    assert w.shape == (4, 5, 3) and w.sum() == 6
    assert w[0, 1, 0] == 2 and w[1, 1, 0] == 1 and w[2, 3, 0] == 1
    assert w[3, 4, 2] == 1 and w[3, 0, 2] == 1
    source, target, kind = config.synapses()
    assert sorted(zip(source.tolist(), target.tolist(), kind.tolist())) == \
        [(0, 2, 3), (1, 0, 0), (1, 0, 0), (1, 0, 1), (3, 0, 2), (4, 2, 3)]


def test_random_configs_are_valid_and_cover_the_ranges():
    """The factories make what the other tests rely on: valid configs with empty slots, every
    type, disabled neurons, extreme codes and t_ref at both ends."""
    rng = np.random.default_rng(0)
    seen = {"t_ref0": False, "t_ref255": False, "wsyn_max": False, "disabled": False, "empty": False,
            "theta_max": False, "negative_idc": False}
    for i in range(12):
        config = random_config(rng, ("dynapse1", "dense1k")[i % 2]).validate()
        nominal = config.nominal()
        seen["t_ref0"] |= bool((config.t_ref == 0).any())
        seen["t_ref255"] |= bool((config.t_ref == 255).any())
        seen["wsyn_max"] |= bool((nominal["wsyn"] == 32640).any())
        seen["theta_max"] |= bool((nominal["theta"] == 8355840).any())
        seen["negative_idc"] |= bool((nominal["idc"] < 0).any())
        seen["disabled"] |= bool((~config.enabled).any())
        seen["empty"] |= bool((config.cam_source == EMPTY).any() and (config.cam_source != EMPTY).any())
    assert all(seen.values()), seen


# ---- files ------------------------------------------------------------------------------------------
def assert_same_config(a: ChipConfig, b: ChipConfig) -> None:
    assert a.spec == b.spec
    for name in ARRAY_FIELDS:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert b.enabled.dtype == bool


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(config=configs())
def test_save_load_round_trip_preserves_every_array_and_the_spec(tmp_path, config):
    config.meta = {"note": "round trip", "n": 3}
    path = config.save(tmp_path / "config.npz")
    loaded = ChipConfig.load(path)
    assert_same_config(config, loaded)
    assert loaded.meta == {"note": "round trip", "n": 3}
    assert loaded.spec.spec_version == "vc1"


def test_round_trip_of_a_user_spec_config_carries_the_spec(tmp_path):
    """The file carries the full spec it was made for: it loads without the spec file."""
    spec_file = tmp_path / "own.toml"
    spec_file.write_text(spec_toml("own", cores=3, neurons_per_core=7, inputs=5, fan_in=11,
                                   mismatch_cv={"dmem": 0.2, "theta": 0.1, "idc": 0.0, "dsyn": 0.3,
                                                "wsyn_fast": 0.4, "wsyn_slow": 0.05}))
    config = random_config(np.random.default_rng(2), load_spec(spec_file))
    path = config.save(tmp_path / "own.npz")
    spec_file.unlink()
    loaded = ChipConfig.load(path)
    assert_same_config(config, loaded)
    assert loaded.spec.name == "own" and loaded.spec.mismatch_cv["wsyn_slow"] == 0.05
    chip = EmulatorChip(loaded.spec, chip_seed=4, mismatch="spec")
    chip.load(loaded)
    inputs = np.random.default_rng(3).integers(0, 16, (30, 5)).astype(np.uint8)
    first = EmulatorChip(config.spec, chip_seed=4, mismatch="spec")
    first.load(config)
    np.testing.assert_array_equal(chip.run(inputs, record_state=True).v, first.run(inputs, record_state=True).v)


def test_save_is_atomic_and_overwrites(tmp_path):
    config = random_config(np.random.default_rng(4), "dynapse1")
    path = tmp_path / "c.npz"
    config.save(path)
    other = random_config(np.random.default_rng(5), "dynapse1")
    other.save(path)
    assert_same_config(other, ChipConfig.load(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
