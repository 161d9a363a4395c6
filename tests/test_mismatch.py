"""Device mismatch (CHIP_SPEC §3): statistics, common random numbers, defaults, clipping.

The statistics use a big synthetic spec loaded from a user TOML file: 4 cores × 4096 neurons
(N = 16384), with nominal values large enough that rounding to integers is negligible and
small enough that nothing clips at the levels tested.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from drivers.emulator import EmulatorChip
from sim.chip.batched import BatchedChips
from sim.chip.config import ChipConfig
from sim.chip.mismatch import MismatchError, batch_params, chip_params, resolve_cv
from sim.chip.spec import MISMATCH_CLASSES, load_spec
from tests.chip_factories import make_spec, random_config, spec_toml

ORDER = ("dmem", "theta", "idc", "dsyn0", "dsyn1", "dsyn2", "dsyn3", "wsyn0", "wsyn1", "wsyn2", "wsyn3")
CLASS = {"dmem": "dmem", "theta": "theta", "idc": "idc", "dsyn0": "dsyn", "dsyn1": "dsyn", "dsyn2": "dsyn",
         "dsyn3": "dsyn", "wsyn0": "wsyn_fast", "wsyn1": "wsyn_slow", "wsyn2": "wsyn_fast", "wsyn3": "wsyn_slow"}
RANGES = {"dmem": (1, 65535), "theta": (1, 2**23 - 1), "idc": (0, 2**15 - 1), "dsyn": (1, 65535),
          "wsyn": (0, 2**15 - 1)}
# nominal values of the statistics chip: value = fine · 2**coarse
NOMINAL = {"dmem": 16384, "theta": 2**20, "idc": 4096, "dsyn": 8192, "wsyn": 4096}
CODES = {"dmem": (64, 8), "theta": (128, 13), "idc": (128, 5), "dsyn": (32, 8), "wsyn": (128, 5)}


@pytest.fixture(scope="module")
def big_config(tmp_path_factory) -> ChipConfig:
    path = tmp_path_factory.mktemp("spec") / "big16k.toml"
    path.write_text(spec_toml("big16k", cores=4, neurons_per_core=4096, inputs=1, fan_in=1,
                              mismatch_cv={"dmem": 0.15, "theta": 0.10, "idc": 0.20, "dsyn": 0.15,
                                           "wsyn_fast": 0.30, "wsyn_slow": 0.20}))
    spec = load_spec(path)
    assert spec.n_neurons == 16384 and spec.name == "big16k"
    config = ChipConfig.empty(spec)
    config.dmem[:] = CODES["dmem"]
    config.theta[:] = CODES["theta"]
    config.idc[:] = (*CODES["idc"], 0)
    config.idc[2:, 2] = 1  # cores 2 and 3 have negative idc; mismatch scales the magnitude
    config.dsyn[:] = CODES["dsyn"]
    config.wsyn[:] = CODES["wsyn"]
    return config.validate()


def effective(params, name: str) -> np.ndarray:
    """The effective values of parameter `name` (in the spec's draw order naming), as float."""
    if name.startswith(("dsyn", "wsyn")):
        return getattr(params, name[:4])[int(name[4])].astype(float)
    return getattr(params, name).astype(float)


def nominal_of(name: str) -> int:
    return NOMINAL[name[:4] if name[:4] in ("dsyn", "wsyn") else name]


def spec_z(chip_seed: int, n: int) -> dict[str, np.ndarray]:
    """The spec's draws, written out independently of sim.chip.mismatch."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(chip_seed)))
    return {p: rng.standard_normal(n) for p in ORDER}


def realised_cv(values: np.ndarray) -> float:
    return float(values.std() / values.mean())


# ---- statistics ------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [0.1, 0.2, 0.3, "spec",
                                   {"dmem": 0.05, "theta": 0.25, "idc": 0.12, "dsyn": 0.22,
                                    "wsyn_fast": 0.08, "wsyn_slow": 0.28}])
def test_realised_cv_matches_the_requested_cv(big_config, level):
    params = chip_params(big_config, chip_seed=2024, level=level)
    if level == "spec":
        wanted = big_config.spec.mismatch_cv
    elif isinstance(level, dict):
        wanted = level
    else:
        wanted = {k: level for k in MISMATCH_CLASSES}
    for name in ORDER:
        values = np.abs(effective(params, name))
        assert values.size >= 10_000
        cv = realised_cv(values)
        assert cv == pytest.approx(wanted[CLASS[name]], rel=0.05), f"{name}: realised cv {cv:.4f}"
        assert values.mean() == pytest.approx(nominal_of(name), rel=0.02), f"{name}: mean multiplier is 1"
        lo, hi = RANGES[name[:4] if name[:4] in ("dsyn", "wsyn") else name]
        assert lo < values.min() and values.max() < hi, f"{name} clipped: the statistics would be biased"


def test_spec_level_uses_the_per_class_defaults(big_config):
    """'spec' = the file's defaults: wsyn fast (AMPA, GABA_A) 0.30 vs slow (NMDA, GABA_B) 0.20, etc."""
    spec_level = chip_params(big_config, 77, "spec")
    as_dict = chip_params(big_config, 77, dict(big_config.spec.mismatch_cv))
    for name in ("dmem", "theta", "idc", "dsyn", "wsyn", "t_ref"):
        np.testing.assert_array_equal(getattr(spec_level, name), getattr(as_dict, name))
    cv = {name: realised_cv(np.abs(effective(spec_level, name))) for name in ORDER}
    assert cv["wsyn0"] == pytest.approx(0.30, rel=0.05) and cv["wsyn2"] == pytest.approx(0.30, rel=0.05)
    assert cv["wsyn1"] == pytest.approx(0.20, rel=0.05) and cv["wsyn3"] == pytest.approx(0.20, rel=0.05)
    assert cv["dmem"] == pytest.approx(0.15, rel=0.05) and cv["theta"] == pytest.approx(0.10, rel=0.05)
    assert cv["idc"] == pytest.approx(0.20, rel=0.05)
    assert all(cv[f"dsyn{k}"] == pytest.approx(0.15, rel=0.05) for k in range(4))


def test_builtin_defaults_are_the_measured_dynapse_values():
    for name in ("dynapse1", "dense1k"):
        assert resolve_cv("spec", load_spec(name)) == {"dmem": 0.15, "theta": 0.10, "idc": 0.20, "dsyn": 0.15,
                                                       "wsyn_fast": 0.30, "wsyn_slow": 0.20}


def test_a_user_spec_file_brings_its_own_defaults(tmp_path):
    cv = {"dmem": 0.01, "theta": 0.02, "idc": 0.03, "dsyn": 0.04, "wsyn_fast": 0.05, "wsyn_slow": 0.25}
    path = tmp_path / "mine.toml"
    path.write_text(spec_toml("mine", cores=2, neurons_per_core=5000, inputs=1, fan_in=1, mismatch_cv=cv))
    config = ChipConfig.empty(load_spec(path))
    config.wsyn[:] = CODES["wsyn"]
    params = chip_params(config, 5, "spec")
    assert realised_cv(params.wsyn[0].astype(float)) == pytest.approx(0.05, rel=0.05)
    assert realised_cv(params.wsyn[1].astype(float)) == pytest.approx(0.25, rel=0.05)
    assert resolve_cv("spec", config.spec) == cv


def test_effective_values_follow_the_spec_formula_exactly(big_config):
    """clip(rint(nominal × exp(s·z − s²/2))) with s = sqrt(ln(1 + cv²)) and the spec's z draws."""
    for seed, level in ((0, 0.2), (2**64 - 1, "spec"), (123456789, 0.45)):
        params = chip_params(big_config, seed, level)
        cv = resolve_cv(level, big_config.spec)
        z = spec_z(seed, big_config.spec.n_neurons)
        sign = np.where(np.arange(16384) >= 8192, -1, 1)
        for name in ORDER:
            s = np.sqrt(np.log(1 + cv[CLASS[name]] ** 2))
            want = np.rint(nominal_of(name) * np.exp(s * z[name] - s * s / 2))
            lo, hi = RANGES[name[:4] if name[:4] in ("dsyn", "wsyn") else name]
            want = np.clip(want, lo, hi)
            if name == "idc":
                want = sign * want
            np.testing.assert_array_equal(effective(params, name), want, err_msg=f"{name}, seed {seed}")


def test_levels_share_z_only_the_scale_changes(big_config):
    """Chip k at 10 % and at 20 %: log(m) = s·z − s²/2 with the same z (common random numbers)."""
    seed = 31337
    z = spec_z(seed, big_config.spec.n_neurons)
    recovered = {}
    for level in (0.1, 0.2):
        params = chip_params(big_config, seed, level)
        s = np.sqrt(np.log(1 + level**2))
        for name in ORDER:
            m = np.abs(effective(params, name)) / nominal_of(name)
            recovered[name, level] = (np.log(m) + s * s / 2) / s
    for name in ORDER:
        # rounding to integers perturbs log(m) by at most 0.5 / value
        tol = 0.02 if name != "theta" else 1e-4
        np.testing.assert_allclose(recovered[name, 0.1], z[name], atol=tol, err_msg=name)
        np.testing.assert_allclose(recovered[name, 0.2], z[name], atol=tol, err_msg=name)
        np.testing.assert_allclose(recovered[name, 0.1], recovered[name, 0.2], atol=tol, err_msg=name)
    # the draws are in the spec's order: theta's z is the second block of N normals
    params = chip_params(big_config, seed, {"theta": 0.1})
    assert np.corrcoef(np.log(params.theta.astype(float)), z["theta"])[0, 1] > 0.9999
    assert abs(np.corrcoef(np.log(params.theta.astype(float)), z["dmem"])[0, 1]) < 0.05


def test_zero_is_the_nominal_chip_exactly():
    rng = np.random.default_rng(8)
    for spec in ("dynapse1", "dense1k"):
        config = random_config(rng, spec, fill=0.0)
        nominal = config.nominal()
        core = np.arange(config.spec.n_neurons) // config.spec.neurons_per_core
        for level in (0, 0.0, "0", "0%", {}, {"theta": 0.0}):
            for seed in (0, 99, 2**64 - 1):
                p = chip_params(config, seed, level)
                np.testing.assert_array_equal(p.dmem, nominal["dmem"][core])
                np.testing.assert_array_equal(p.theta, nominal["theta"][core])
                np.testing.assert_array_equal(p.idc, nominal["idc"][core])
                np.testing.assert_array_equal(p.t_ref, nominal["t_ref"][core])
                np.testing.assert_array_equal(p.dsyn, nominal["dsyn"][core].T)
                np.testing.assert_array_equal(p.wsyn, nominal["wsyn"][core].T)
                np.testing.assert_array_equal(p.enabled, config.enabled)


def test_t_ref_and_enable_mask_are_not_subject_to_mismatch():
    config = random_config(np.random.default_rng(1), "dynapse1", fill=0.0, p_disabled=0.3)
    p = chip_params(config, 5, 0.8)
    np.testing.assert_array_equal(p.t_ref, np.repeat(config.t_ref, 256))
    np.testing.assert_array_equal(p.enabled, config.enabled)


def test_clipping_to_the_value_ranges():
    spec = make_spec("clip", cores=4, neurons_per_core=3000, inputs=1, fan_in=1)
    config = ChipConfig.empty(spec)
    # core 0: everything at the top of its range; core 1: at the bottom; cores 2, 3: idc negative max / zero
    config.dmem[:] = [(255, 8), (1, 0), (64, 8), (64, 8)]
    config.theta[:] = [(255, 15), (1, 0), (128, 8), (128, 8)]
    config.idc[:] = [(255, 7, 0), (1, 0, 0), (255, 7, 1), (0, 0, 1)]
    config.dsyn[:] = [[(255, 8)] * 4, [(1, 0)] * 4, [(64, 8)] * 4, [(64, 8)] * 4]
    config.wsyn[:] = [[(255, 7)] * 4, [(0, 0)] * 4, [(64, 8)] * 4, [(64, 8)] * 4]
    p = chip_params(config.validate(), 4, 1.0)
    top, bottom, neg, zero = (slice(i * 3000, (i + 1) * 3000) for i in range(4))
    assert p.dmem[top].max() == 65535 and (p.dmem[top] == 65535).sum() > 100
    assert p.dsyn[:, top].max() == 65535 and p.wsyn[:, top].max() == 2**15 - 1
    assert p.theta[top].max() == 2**23 - 1 and p.idc[top].max() == 2**15 - 1
    assert p.dmem[bottom].min() == 1 and (p.dmem[bottom] == 1).sum() > 100  # rint(m) = 0 → clipped to 1
    assert p.theta[bottom].min() == 1 and p.dsyn[:, bottom].min() == 1
    assert not p.wsyn[:, bottom].any()       # nominal 0 stays 0
    assert p.idc[bottom].min() == 0 and p.idc[bottom].max() > 1
    assert p.idc[neg].min() == -(2**15 - 1) and p.idc[neg].max() < 0
    assert not p.idc[zero].any()
    for name, (lo, hi) in (("dmem", (1, 65535)), ("theta", (1, 2**23 - 1)), ("dsyn", (1, 65535)),
                           ("wsyn", (0, 2**15 - 1))):
        values = getattr(p, name)
        assert lo <= values.min() and values.max() <= hi, name
    assert np.abs(p.idc).max() <= 2**15 - 1


@pytest.mark.parametrize("level", [0.1, 0.5, 2.0, "spec"])
def test_idc_keeps_its_sign(level):
    config = random_config(np.random.default_rng(3), "dynapse1", fill=0.0)
    config.idc[:] = [(200, 6, 1), (200, 6, 0), (3, 0, 1), (0, 0, 0)]
    for seed in (1, 2, 3):
        idc = chip_params(config, seed, level).idc.reshape(4, 256)
        assert (idc[0] < 0).all() and (idc[1] > 0).all()
        assert (idc[2] <= 0).all() and (idc[2] < 0).any()
        assert not idc[3].any()


def test_determinism_across_calls_batches_and_processes():
    config = random_config(np.random.default_rng(12), "dynapse1", fill=0.0)
    a = chip_params(config, 2**63 + 11, "spec")
    b = chip_params(config, 2**63 + 11, "spec")
    batch = batch_params(config, [5, 2**63 + 11, 5], "spec")
    for name in ("dmem", "theta", "idc", "t_ref", "dsyn", "wsyn"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(getattr(batch, name)[1], getattr(a, name))
        np.testing.assert_array_equal(getattr(batch, name)[0], getattr(batch, name)[2])
    assert not np.array_equal(batch.theta[0], batch.theta[1])
    # another interpreter realises the same chip
    code = ("import numpy as np, sys; from sim.chip.mismatch import mismatch_z; "
            "z = mismatch_z(2**63 + 11, 1024); sys.stdout.write(repr(float(z['wsyn3'][1023])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == spec_z(2**63 + 11, 1024)["wsyn3"][1023]


def test_chips_realise_their_mismatch_in_the_emulator_and_batched_simulator():
    """The parameters the chips run with are chip_params(seed, level): a neuron driven by idc only
    fires at a time set by its own theta, dmem and idc, and two seeds give different rasters."""
    config = random_config(np.random.default_rng(5), "dynapse1", fill=0.0, p_disabled=0.0)
    config.idc[:] = (200, 3, 0)
    config.theta[:] = (250, 6)
    config.dmem[:] = (64, 6)
    config.t_ref[:] = 2
    inputs = np.zeros((60, 64), np.uint8)
    rasters = []
    for seed in (1, 2):
        chip = EmulatorChip("dynapse1", chip_seed=seed, mismatch=0.3)
        chip.load(config)
        rasters.append(chip.run(inputs).spikes)
    batched = BatchedChips(config, [1, 2], mismatch=0.3, backend="numpy").run(inputs).spikes
    np.testing.assert_array_equal(batched, np.stack(rasters))
    assert not np.array_equal(rasters[0], rasters[1])
    nominal = EmulatorChip("dynapse1", chip_seed=1, mismatch=0)
    nominal.load(config)
    flat = nominal.run(inputs).spikes
    assert (flat == flat[:, :1]).all(), "at mismatch 0 every neuron of a core is identical"


def test_full_64_bit_seeds_and_bad_levels():
    config = random_config(np.random.default_rng(6), "dynapse1", fill=0.0)
    top = chip_params(config, 2**64 - 1, 0.2)
    bottom = chip_params(config, 0, 0.2)
    assert not np.array_equal(top.dmem, bottom.dmem)
    assert resolve_cv("10%", config.spec) == {k: pytest.approx(0.1) for k in MISMATCH_CLASSES}
    assert resolve_cv("0.25", config.spec) == {k: 0.25 for k in MISMATCH_CLASSES}
    assert resolve_cv({"theta": 0.3}, config.spec) == {k: (0.3 if k == "theta" else 0.0) for k in MISMATCH_CLASSES}
    for bad, match in (("lots", "mismatch level 'lots'"), (-0.1, "must be in"), (float("nan"), "must be in"),
                       ({"wsyn_medium": 0.1}, "wsyn_medium"), (11, "must be in")):
        with pytest.raises(MismatchError, match=match):
            resolve_cv(bad, config.spec)
