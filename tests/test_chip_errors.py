"""Bad input is rejected with a message that names what is wrong."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from drivers.chip import ChipError, NotLoadedError
from drivers.emulator import EmulatorChip
from sim.chip.batched import BatchedChips
from sim.chip.config import ChipConfig, ConfigError
from sim.chip.inputs import InputError
from sim.chip.mismatch import MismatchError
from sim.chip.noise import NoiseError
from sim.chip.spec import SpecError, load_spec
from tests.chip_factories import make_spec, spec_toml


@pytest.fixture
def config() -> ChipConfig:
    return ChipConfig.empty(load_spec("dynapse1"))


@pytest.fixture
def chip(config) -> EmulatorChip:
    chip = EmulatorChip("dynapse1", chip_seed=1)
    chip.load(config)
    return chip


# ---- configuration -----------------------------------------------------------------------------
def test_fan_in_exceeded_is_a_shape_error_naming_cam_source_and_the_limit(config):
    config.cam_source = np.full((1024, 65), -1, np.int32)
    config.cam_type = np.zeros((1024, 65), np.int8)
    with pytest.raises(ConfigError, match=r"cam_source: shape \(1024, 65\), expected \(1024, 64\)"):
        config.validate()
    with pytest.raises(ConfigError, match=r"cam_type: shape \(1024, 65\), expected \(1024, 64\)"):
        config.validate()
    with pytest.raises(ConfigError, match="dynapse1"):
        EmulatorChip("dynapse1").load(config)


@pytest.mark.parametrize("field, index, value, match", [
    ("dmem", (0, 0), 256, r"dmem\.fine\[0\] .* = 256, allowed 0\.\.255"),
    ("theta", (2, 1), 16, r"theta\.coarse\[2\] .* = 16, allowed 0\.\.15"),
    ("dsyn", (1, 3, 1), 16, r"dsyn\.coarse\[1, 3\] .* = 16, allowed 0\.\.15"),
    ("wsyn", (3, 0, 0), 300, r"wsyn\.fine\[3, 0\] .* = 300, allowed 0\.\.255"),
    ("wsyn", (0, 2, 0), -1, r"wsyn\.fine\[0, 2\] .* = -1, allowed 0\.\.255"),
    ("idc", (1, 0), 256, r"idc\.fine\[1\] .* = 256, allowed 0\.\.255"),
    ("idc", (1, 1), 16, r"idc\.coarse\[1\] .* = 16, allowed 0\.\.15"),
    ("idc", (1, 2), 2, r"idc\.negative\[1\] .* = 2, allowed 0\.\.1"),
    ("t_ref", (2,), 256, r"t_ref\[2\] .* = 256, allowed 0\.\.255"),
    ("t_ref", (0,), -1, r"t_ref\[0\] .* = -1, allowed 0\.\.255"),
])
def test_out_of_range_codes(config, field, index, value, match):
    getattr(config, field)[index] = value
    with pytest.raises(ConfigError, match=match):
        config.validate()


@pytest.mark.parametrize("field, code, match", [
    ("theta", (0, 5), r"theta value\[1\] .* = 0, allowed 1\.\.8388607"),
    ("dmem", (0, 0), r"dmem value\[1\] .* = 0, allowed 1\.\.65535"),
    ("dmem", (128, 9), r"dmem value\[1\] .* = 65536, allowed 1\.\.65535"),
    ("idc", (128, 8, 1), r"idc value\[1\] .* = -32768, allowed -32767\.\.32767"),
    ("idc", (255, 8, 0), r"idc value\[1\] .* = 65280, allowed -32767\.\.32767"),
])
def test_out_of_range_values(config, field, code, match):
    getattr(config, field)[1] = code
    with pytest.raises(ConfigError, match=match):
        config.validate()


def test_out_of_range_synapse_values(config):
    config.dsyn[2, 1] = (0, 3)
    config.wsyn[3, 2] = (128, 8)  # 32768 = 2**15
    with pytest.raises(ConfigError) as info:
        config.validate()
    assert re.search(r"dsyn value\[2, 1\] .* = 0, allowed 1\.\.65535", str(info.value))
    assert re.search(r"wsyn value\[3, 2\] .* = 32768, allowed 0\.\.32767", str(info.value))


def test_source_id_out_of_range_names_neuron_and_slot(config):
    config.cam_source[700, 12] = 1088
    with pytest.raises(ConfigError, match=r"cam_source\[neuron 700, slot 12\] = 1088: source id must be -1 "
                                          r"\(empty\) or in 0\.\.1087"):
        config.validate()
    config.cam_source[700, 12] = -2
    with pytest.raises(ConfigError, match=r"cam_source\[neuron 700, slot 12\] = -2"):
        config.validate()


def test_bad_synapse_type_names_neuron_and_slot(config):
    config.cam_source[5, 63] = 3
    config.cam_type[5, 63] = 4
    with pytest.raises(ConfigError, match=r"cam_type\[neuron 5, slot 63\] = 4: synapse type must be 0\.\.3"):
        config.validate()
    config.cam_type[5, 63] = -1
    with pytest.raises(ConfigError, match=r"cam_type\[neuron 5, slot 63\] = -1"):
        config.validate()
    config.cam_source[5, 63] = -1  # an empty slot's type does not matter
    config.validate()


def test_every_violation_is_reported_first_ten_in_full(config):
    config.cam_source[:15, 0] = 5000
    config.t_ref[:] = 300
    with pytest.raises(ConfigError) as info:
        config.validate()
    message = str(info.value)
    assert "configuration invalid for spec dynapse1 (vc1)" in message
    assert "neuron 9, slot 0" in message and "neuron 10, slot 0" not in message
    assert "... and 9 more" in message


def test_wrong_dtypes_are_rejected(config):
    config.enabled = np.ones(1024, np.int8)
    with pytest.raises(ConfigError, match="enabled: dtype int8, expected bool"):
        config.validate()
    config.enabled = np.ones(1024, bool)
    config.dmem = config.dmem.astype(float)
    with pytest.raises(ConfigError, match="dmem: dtype float64, expected integers"):
        config.validate()


# ---- spec ----------------------------------------------------------------------------------------
def test_unknown_spec_name():
    with pytest.raises(SpecError, match=r"unknown chip spec 'dynapse9'.*dynapse1, dense1k"):
        load_spec("dynapse9")
    with pytest.raises(SpecError, match="unknown chip spec 'dynapse9'"):
        EmulatorChip("dynapse9")


def test_unknown_spec_version_in_a_user_spec_file(tmp_path):
    path = tmp_path / "future.toml"
    path.write_text(spec_toml("future", cores=1, neurons_per_core=4, inputs=2, fan_in=2, spec_version="vc2"))
    with pytest.raises(SpecError, match=r"future\.toml: unknown spec version 'vc2'.*'vc1'"):
        load_spec(path)


@pytest.mark.parametrize("field", ["name", "cores", "neurons_per_core", "inputs", "fan_in"])
def test_spec_file_missing_a_field(tmp_path, field):
    text = spec_toml("holey", cores=1, neurons_per_core=4, inputs=2, fan_in=2)
    text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{field} ="))
    path = tmp_path / "holey.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=rf"holey\.toml: missing field '{field}'"):
        load_spec(path)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("mismatch_cv"), "missing table 'mismatch_cv'"),
    (lambda d: d["mismatch_cv"].pop("wsyn_slow"), r"mismatch_cv\.wsyn_slow must be a number"),
    (lambda d: d["mismatch_cv"].update(wsyn_medium=0.1), r"unknown mismatch class.*wsyn_medium"),
    (lambda d: d.update(dt_ms=0.5), r"field 'dt_ms' must be 1\.0"),
    (lambda d: d.update(cores=0), r"field 'cores' must be a positive integer"),
    (lambda d: d.update(inputs="64"), r"field 'inputs' must be int"),
    (lambda d: d.update(fan_in=100), r"field 'fan_in' = 100 exceeds inputs \+ neurons = 6"),
    (lambda d: d.pop("spec_version"), "unknown spec version None"),
])
def test_spec_field_errors_name_the_file_and_field(tmp_path, edit, match):
    data = {"name": "bad", "spec_version": "vc1", "cores": 1, "neurons_per_core": 4, "inputs": 2,
            "fan_in": 2, "dt_ms": 1.0, "mismatch_cv": {"dmem": 0.1, "theta": 0.1, "idc": 0.1, "dsyn": 0.1,
                                                       "wsyn_fast": 0.1, "wsyn_slow": 0.1}}
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=rf"bad\.json: {match}"):
        load_spec(path)


def test_unreadable_spec_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n[[[")
    with pytest.raises(SpecError, match=r"broken\.toml: cannot read chip spec"):
        load_spec(path)


# ---- configuration files ------------------------------------------------------------------------
def test_truncated_config_file(tmp_path, config):
    path = config.save(tmp_path / "config.npz")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        broken = tmp_path / f"cut{cut}.npz"
        broken.write_bytes(data[:cut])
        with pytest.raises(ConfigError, match=re.escape(str(broken))):
            ChipConfig.load(broken)


def test_non_config_npz(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.zeros(3))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not a chip configuration")):
        ChipConfig.load(path)
    other = tmp_path / "other.npz"
    np.savez(other, meta_json=np.frombuffer(json.dumps({"format": "something-else"}).encode(), np.uint8))
    with pytest.raises(ConfigError, match=r"not a chip configuration \(format 'something-else'\)"):
        ChipConfig.load(other)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ConfigError, match=re.escape(str(text))):
        ChipConfig.load(text)
    with pytest.raises(ConfigError, match="no such configuration file"):
        ChipConfig.load(tmp_path / "absent.npz")


def test_config_file_for_another_spec_version(tmp_path, config):
    path = config.save(tmp_path / "config.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["meta_json"].tobytes())
    meta["spec_version"] = "vc2"
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match=r"made for spec version 'vc2'"):
        ChipConfig.load(path)


def test_config_file_with_invalid_contents_names_the_file(tmp_path, config):
    path = config.save(tmp_path / "config.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["t_ref"] = np.full(4, 999)
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match=r"(?s)" + re.escape(str(path)) + r".*t_ref\[0\]"):
        ChipConfig.load(path)
    del arrays["wsyn"]
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match="missing arrays wsyn"):
        ChipConfig.load(path)


def test_save_refuses_an_invalid_config(tmp_path, config):
    config.theta[0] = (0, 0)
    with pytest.raises(ConfigError, match="theta value"):
        config.save(tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()


# ---- chips ------------------------------------------------------------------------------------
def test_run_before_load(config):
    chip = EmulatorChip("dynapse1")
    with pytest.raises(NotLoadedError, match=r"no configuration loaded.*load\(\)"):
        chip.run(np.zeros((3, 64), np.uint8))
    chip.load(config)
    chip.run(np.zeros((3, 64), np.uint8))
    chip.reset()
    with pytest.raises(NotLoadedError):
        chip.run(np.zeros((3, 64), np.uint8))


def test_config_for_another_spec(config):
    with pytest.raises(ChipError, match=r"configuration is for spec dynapse1 \(vc1\); this chip is dense1k"):
        EmulatorChip("dense1k").load(config)
    tiny = ChipConfig.empty(make_spec("tiny"))
    with pytest.raises(ChipError, match="configuration is for spec tiny"):
        EmulatorChip("dynapse1").load(tiny)


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70, 1.5, np.float64(2.0), "7", True, np.bool_(True), None])
def test_bad_chip_seed(seed, config):
    match = re.escape(f"chip seed {seed!r} must be an integer in 0..2**64-1")
    with pytest.raises(MismatchError, match=match):
        EmulatorChip("dynapse1", chip_seed=seed)
    with pytest.raises(MismatchError, match=match):
        BatchedChips(config, [3, seed], backend="numpy")


def test_good_chip_seeds_of_every_integer_kind(config):
    chips = BatchedChips(config, [0, 2**64 - 1, np.uint64(2**63), np.int32(7)], backend="numpy")
    assert chips.chip_seeds == [0, 2**64 - 1, 2**63, 7]
    assert all(type(seed) is int for seed in chips.chip_seeds)


@pytest.mark.parametrize("level", ["lots", "ten percent", "%", "spec!"])
def test_bad_mismatch_level_string(level, config):
    with pytest.raises(MismatchError, match=re.escape(f"mismatch level {level!r}")):
        EmulatorChip("dynapse1", mismatch=level)
    with pytest.raises(MismatchError, match=re.escape(f"mismatch level {level!r}")):
        BatchedChips(config, [1], mismatch=level, backend="numpy")


AMPLITUDE_LIMIT = r"must be an integer in 0\.\.2147483647"
SEED_LIMIT = r"must be an integer in 0\.\.2\*\*64-1"


@pytest.mark.parametrize("amplitude, seed, match", [
    (-1, 0, rf"noise amplitude -1 {AMPLITUDE_LIMIT}"), (2**31, 0, rf"noise amplitude 2147483648 {AMPLITUDE_LIMIT}"),
    (1.5, 0, rf"noise amplitude 1\.5 {AMPLITUDE_LIMIT}"), (True, 0, rf"noise amplitude True {AMPLITUDE_LIMIT}"),
    ("5", 0, rf"noise amplitude '5' {AMPLITUDE_LIMIT}"),
    (5, -1, rf"noise seed -1 {SEED_LIMIT}"), (5, 2**64, rf"noise seed 18446744073709551616 {SEED_LIMIT}"),
    (5, 2.0, rf"noise seed 2\.0 {SEED_LIMIT}"), (5, None, rf"noise seed None {SEED_LIMIT}"),
])
def test_bad_noise_parameters(chip, config, amplitude, seed, match):
    """The emulator and the batched simulator refuse the same values with the same message."""
    with pytest.raises(NoiseError, match=match):
        chip.run(np.zeros((3, 64), np.uint8), noise_amplitude=amplitude, noise_seed=seed)
    with pytest.raises(NoiseError, match=match):
        BatchedChips(config, [1, 2], backend="numpy").run(np.zeros((3, 64), np.uint8), noise_amplitude=amplitude,
                                                          noise_seeds=seed)


@pytest.mark.parametrize("seeds, match", [
    ([1], "noise_seeds holds 1 seeds for 2 chips: give one seed, or exactly 2"),
    (np.arange(3, dtype=np.uint64), "noise_seeds holds 3 seeds for 2 chips"),
    ([], "noise_seeds holds 0 seeds for 2 chips"),
    ([4, -1], rf"noise seed -1 {SEED_LIMIT}"), ([2**64, 4], rf"noise seed 18446744073709551616 {SEED_LIMIT}"),
    ([4, 1.5], rf"noise seed 1\.5 {SEED_LIMIT}"),
    (np.array([4.0, 5.0]), rf"noise seed np\.float64\(4\.0\) {SEED_LIMIT}"),
])
def test_bad_batched_noise_seeds(config, seeds, match):
    with pytest.raises(NoiseError, match=match):
        BatchedChips(config, [1, 2], backend="numpy").run(np.zeros((3, 64), np.uint8), noise_amplitude=5,
                                                          noise_seeds=seeds)


def test_noise_seeds_one_for_all_or_one_per_chip(config):
    chips = BatchedChips(config, [1, 2], backend="numpy")
    x = np.zeros((3, 64), np.uint8)
    one = chips.run(x, noise_amplitude=9, noise_seeds=np.uint64(2**64 - 1), record_state=True)
    each = chips.run(x, noise_amplitude=np.int64(9), noise_seeds=[2**64 - 1, np.uint64(2**64 - 1)], record_state=True)
    np.testing.assert_array_equal(one.v, each.v)


# ---- inputs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(10, 63), (10, 65), (64,), (0, 64), (2, 10, 64), (10, 64, 1)])
def test_wrong_input_shapes(chip, shape):
    with pytest.raises(InputError, match=r"input raster has shape .*expected \[steps, inputs\] with inputs = 64"):
        chip.run(np.zeros(shape, np.uint8))


def test_wrong_batched_input_shapes(config):
    chips = BatchedChips(config, [1, 2], backend="numpy")
    with pytest.raises(InputError, match=r"input raster has shape \(10, 63\)"):
        chips.run(np.zeros((10, 63), np.uint8))
    with pytest.raises(ValueError, match="inputs hold 3 rasters for 2 chips"):
        chips.run(np.zeros((3, 10, 64), np.uint8))
    with pytest.raises(InputError, match=r"input raster has shape \(2, 10, 65\)"):
        chips.run(np.zeros((2, 10, 65), np.uint8))
    with pytest.raises(ValueError, match=r"neurons must be indices in 0\.\.1023"):
        chips.run(np.zeros((10, 64), np.uint8), neurons=[0, 1024])
    with pytest.raises(ValueError, match="noise amplitude -3"):
        chips.run(np.zeros((10, 64), np.uint8), noise_amplitude=-3)


@pytest.mark.parametrize("value, dtype, match", [
    (np.nan, float, "NaN or infinite"), (np.inf, float, "NaN or infinite"), (-1, np.int64, r"input count -1"),
    (16, np.int64, r"input count 16 at index \(3, 7\) is outside 0\.\.15"), (255, np.uint8, "input count 255"),
    (0.5, float, "non-integer spike counts"), (2.25, np.float32, "non-integer"), (16.0, float, "outside 0..15"),
])
def test_bad_input_counts(chip, config, value, dtype, match):
    x = np.zeros((10, 64), dtype)
    x[3, 7] = value
    with pytest.raises(InputError, match=match):
        chip.run(x)
    with pytest.raises(InputError, match=match):
        BatchedChips(config, [1], backend="numpy").run(x)


def test_non_numeric_inputs(chip):
    with pytest.raises(InputError, match="dtype"):
        chip.run(np.full((10, 64), "1"))


def test_valid_inputs_of_every_kind_are_accepted(chip):
    for x in (np.zeros((5, 64), bool), np.full((5, 64), 15, np.int64), np.full((5, 64), 15.0),
              [[0] * 64] * 5):
        assert chip.run(x).spikes.shape == (5, 1024)
