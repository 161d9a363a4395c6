"""Training for the chip: ADS under a fan-in limit (sim.ads), and one readout fitted across
sampled chips (harness.shared_readout)."""
import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compiler import CompiledNetwork, compile_network
from harness.readout_fit import ReadoutFit, compile_for_chip
from harness.report import readout_fitted
from harness.networks import run_readout
from harness.run_config import RunConfigError, config_from_dict, default_readout
from harness.deploy import evaluate_deployments, refit_readout
from harness.shared_readout import NOMINAL_WEIGHTS, SEED_BASE, fit_across_chips, sampled_seeds
from sim.chip.spec import load_spec
from sim.netfile import save_network
from sim.ads import ads_config, fan_in_mask, train_ads
from sim.tasks.xor import make_xor
from sim.teacher import teacher_config, train_teacher


@pytest.fixture(scope="module")
def setup():
    task = make_xor(seed=2, n_train=64, n_val=16, n_test=32, n_steps=600)
    teacher = train_teacher(task, teacher_config("xor", n_hidden=16, epochs=12, batch_size=16, lr=2e-2), seed=0)
    return task, teacher


def test_fan_in_mask_keeps_each_columns_strongest_off_diagonal_weights():
    w = np.array([[9.0, 1.0, -3.0], [2.0, 9.0, 0.0], [-4.0, 0.5, 9.0]])
    np.testing.assert_array_equal(fan_in_mask(w, 1), [[0, 1, 1], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(fan_in_mask(w, 5), [[0, 1, 1], [1, 0, 0], [1, 1, 0]])


@pytest.mark.parametrize("options", [{"slow_cut_level": 0}, {"slow_cut_level": 2},
                                     {"slow_gradual": True, "select_chips": 2}])
def test_ads_under_a_fan_in_limit_learns_within_it(setup, options):
    task, teacher = setup
    config = ads_config("xor", n_neurons=96, epochs=2, batch_size=16, fast_fan_in=6, slow_fan_in=10, **options)
    reports = []
    net, metrics = train_ads(teacher, task, config, seed=0, progress=reports.append)
    judged = [r for r in reports if "val_nmse" in r]
    assert len(judged) == config.k_steps and all(("chips_mean" in r) == bool(config.select_chips) for r in judged)
    assert (net.w_fast != 0).sum(0).max() <= 6 and (net.w_slow != 0).sum(0).max() <= 10
    assert (net.w_slow != 0).sum(0).min() > 0  # the limit, not silence
    assert metrics["ads_test_accuracy"] > 0.75


def test_one_readout_is_fitted_across_sampled_chips(setup):
    task, teacher = setup
    config = ads_config("xor", n_neurons=64, epochs=1, batch_size=16)
    net, _ = train_ads(teacher, task, config, seed=0)
    compiled = compile_network(net, "dynapse1", task.train.inputs)
    shared = fit_across_chips(compiled, task, chips=2, samples=16, backend="numpy")
    refit = shared.report["readout_refit"]
    assert refit["chip"] == "shared" and refit["sampled_chips"] == 2 and refit["seed_base"] == SEED_BASE
    assert refit["nominal_weight"] in NOMINAL_WEIGHTS[1:]  # weighted: an even fit (1) fails this nominal chip
    assert shared.decoder.w_out.shape == compiled.decoder.w_out.shape and shared.decoder.bias is not None
    assert not np.allclose(shared.decoder.w_out, compiled.decoder.w_out)
    nominal = refit_readout(compiled, task, "numpy").decoder
    np.testing.assert_array_equal(shared.decoder.prior, nominal.w_out)  # carried for calibration
    # the guard: the nominal chip on the validation split within one sample of its own re-fit
    on_nominal = evaluate_deployments(shared, task, split="val", mismatch=0, backend="numpy")[0][0]
    assert on_nominal == pytest.approx(refit["nominal_val_accuracy"])
    assert on_nominal >= refit["nominal_val_reference"] - 1 / len(task.val) - 1e-12
    fallback = fit_across_chips(compiled, task, chips=2, samples=8, backend="numpy")  # too few trials: no weight
    assert fallback.report["readout_refit"]["nominal_weight"] is None  # keeps the nominal chip, so its re-fit ships
    assert fallback.decoder.w_out.tobytes() == nominal.w_out.tobytes() and fallback.decoder.prior is None
    assert readout_fitted(refit) == f"shared: nominal (weight {refit['nominal_weight']}) + 2 sampled chips"
    assert readout_fitted(fallback.report["readout_refit"]) == "nominal (a shared readout failed the nominal chip)"
    np.testing.assert_array_equal(shared.config.cam_source, compiled.config.cam_source)  # host side only
    with pytest.raises(ValueError, match="chips must be >= 1"):
        fit_across_chips(compiled, task, chips=0)


def test_sampled_chips_for_a_shared_readout_are_never_judged():
    assert sampled_seeds(3) == [SEED_BASE, SEED_BASE + 1, SEED_BASE + 2]
    assert sampled_seeds(3, range(64)) == [SEED_BASE, SEED_BASE + 1, SEED_BASE + 2]
    assert sampled_seeds(2, range(SEED_BASE - 1, SEED_BASE + 4)) == [SEED_BASE + 4, SEED_BASE + 5]
    assert sampled_seeds(2, range(2**64 - 4, 2**64)) == [SEED_BASE, SEED_BASE + 1]
    near_base = range(SEED_BASE - 2, 2**64)
    assert sampled_seeds(2, near_base) == [SEED_BASE - 4, SEED_BASE - 3]


def test_the_run_and_harness_compile_fit_a_shared_readout(setup, tmp_path):
    task, teacher = setup
    net, _ = train_ads(teacher, task, ads_config("xor", n_neurons=64, epochs=1, batch_size=16), seed=0)
    shared = compile_for_chip(net, load_spec("dynapse1"), task, backend="numpy",
                              readout=ReadoutFit("shared", "spec", range(SEED_BASE, SEED_BASE + 20)))
    assert shared.report["readout_refit"]["chip"] == "shared"
    assert shared.report["readout_refit"]["seed_base"] == SEED_BASE + 20  # past the judged chips
    nominal = compile_for_chip(net, load_spec("dynapse1"), task, backend="numpy")
    assert nominal.report["readout_refit"]["chip"] == "nominal"
    assert config_from_dict({"readout": "shared"}).readout == "shared"
    with pytest.raises(RunConfigError, match="field 'readout' must be auto or one of nominal, shared"):
        config_from_dict({"readout": "every chip"})
    path = tmp_path / "net.npz"
    save_network(net.replace(meta={"task": "xor", "seed": 0}), path)
    args = ["compile", str(path), "--chips", "1", "--samples", "4", "--backend", "numpy", "-o", str(tmp_path / "c.npz")]
    assert config_from_dict({}).readout == "auto"  # the method's (docs/fidelity.md 5.8, 5.11), as harness compile's
    assert run_readout(config_from_dict({}), "ads").where == default_readout("ads") == "shared-normalised"
    assert run_readout(config_from_dict({}), "bptt").where == default_readout("bptt") == "shared"
    assert run_readout(config_from_dict({}), "model.nir").where == "shared"
    assert run_readout(config_from_dict({"readout": "nominal"}), "ads").where == "nominal"
    result = CliRunner().invoke(main, [*args, "--readout-chips", "1"])
    assert result.exit_code == 0, result.output
    assert CompiledNetwork.load(tmp_path / "c.npz").report["readout_refit"]["sampled_chips"] == 1
    result = CliRunner().invoke(main, [*args, "--readout", "shared", "--no-refit"])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == (
        "Error: --readout shared re-fits the readout; it cannot go with --no-refit")


def test_slow_decay_shrinks_the_slow_weights_within_the_fan_in(setup):
    task, teacher = setup
    config = ads_config("xor", n_neurons=96, epochs=2, batch_size=16, fast_fan_in=6, slow_fan_in=10)
    plain, _ = train_ads(teacher, task, config, seed=0)
    decayed, _ = train_ads(teacher, task, ads_config("xor", **{**config.__dict__, "slow_decay": 0.3}), seed=0)
    assert (decayed.w_slow != 0).sum(0).max() <= 10
    assert np.abs(decayed.w_slow).sum() < 0.8 * np.abs(plain.w_slow).sum()
    assert decayed.meta["ads"]["slow_decay"] == 0.3
    with pytest.raises(ValueError, match="slow_decay"):
        ads_config("xor", slow_decay=1.0)
