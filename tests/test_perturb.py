"""sim.perturb: the perturbation protocol and the robustness table."""
import numpy as np
import pytest

from sim.lif import input_drive, lif_params, simulate
from sim.perturb import (MISMATCH_FIELDS, ChipDraw, ChipMismatch, Perturbation, apply_perturbation, evaluate,
                         format_table, robustness_table)
from sim.tasks.base import Task
from sim.tasks.xor import xor_dataset
from tests.networks import random_network


def tiny_task(seed=0, n_steps=200):
    rng = np.random.default_rng(seed)
    return Task("xor", *(xor_dataset(n, rng, n_steps=n_steps, pulse_ms=20) for n in (8, 8, 16)))


def perturbed(net, p, draws=4, seed=0):
    params = lif_params(net, "numpy", draws=draws, dtype=np.float64)
    apply_perturbation(params, p, np.random.default_rng(seed))
    return params


def test_zero_perturbation_leaves_results_identical():
    net = random_network(np.random.default_rng(0), n_in=1)
    x = np.random.default_rng(1).normal(0, 1, (3, 100, 1))
    nominal = simulate(lif_params(net, "numpy", draws=1, dtype=np.float64), x).outputs[0]
    out = simulate(perturbed(net, Perturbation(mismatch=0.0)), x).outputs
    for d in range(out.shape[0]):
        np.testing.assert_array_equal(out[d], nominal)
    task = tiny_task()
    acc = evaluate(net, task, Perturbation(), draws=3)
    assert acc.shape == (3,) and np.all(acc == evaluate(net, task)[0])


@pytest.mark.parametrize("sigma", [0.05, 0.2])
def test_mismatch_spread_matches_sigma(sigma):
    net = random_network(np.random.default_rng(2), n=40)
    nominal = lif_params(net, "numpy", draws=30, dtype=np.float64)
    params = perturbed(net, Perturbation(mismatch=sigma), draws=30)
    for name in MISMATCH_FIELDS:
        ratio = getattr(params, name) / getattr(nominal, name)
        assert abs(np.std(ratio) - sigma) < 0.1 * sigma, name
        assert abs(np.mean(ratio) - 1.0) < 0.1 * sigma, name
        assert np.std(ratio[0] - ratio[1]) > 0  # independent per draw
    np.testing.assert_array_equal(params.w_out, nominal.w_out)  # the host-side readout is untouched
    np.testing.assert_array_equal(params.tau_fast, nominal.tau_fast)


def test_mismatch_keeps_time_constants_positive_and_signs():
    net = random_network(np.random.default_rng(3), n=30)
    params = perturbed(net, Perturbation(mismatch=0.9), draws=20)
    assert np.all(params.tau_mem > 0) and np.all(params.tau_slow > 0) and np.all(params.v_th > 0)
    assert np.all(np.sign(params.w_slow) == np.sign(net.w_slow))


@pytest.mark.parametrize("bits", [2, 3, 4, 6])
def test_quantisation_levels(bits):
    net = random_network(np.random.default_rng(4), n=50)
    params = perturbed(net, Perturbation(bits=bits))
    for name in ("w_in", "w_fast", "w_slow"):
        w = getattr(params, name)[0]
        levels = np.unique(w)
        assert len(levels) <= 2 ** bits - 1
        assert len(levels) >= min(2 ** bits - 1, 3)
        err = np.abs(w - getattr(net, name)).max()
        assert err <= np.abs(getattr(net, name)).max() / (2 ** (bits - 1) - 1) / 2 + 1e-12
    np.testing.assert_array_equal(params.w_out[0], net.w_out)


def test_death_fraction_is_exact_and_per_draw():
    net = random_network(np.random.default_rng(5), n=50)
    params = perturbed(net, Perturbation(death=0.4), draws=6)
    dead = params.alive[:, 0] == 0
    assert np.all(dead.sum(1) == 20)
    assert len({tuple(np.flatnonzero(d)) for d in dead}) > 1


def test_noise_and_mismatch_change_outcomes_draw_by_draw():
    net = random_network(np.random.default_rng(6), n_in=1)
    task = tiny_task()
    for p in (Perturbation(noise_std=2.0), Perturbation(mismatch=0.3), Perturbation(chip=ChipMismatch(0.3))):
        outputs = []
        for seed in (0, 1):
            params = lif_params(net, "numpy", draws=2)
            apply_perturbation(params, p, np.random.default_rng(seed))
            outputs.append(simulate(params, task.test.inputs, noise_std=p.noise_std, seed=seed).outputs)
        assert not np.array_equal(outputs[0][0], outputs[0][1]) and not np.array_equal(outputs[0], outputs[1])
    a = evaluate(net, task, Perturbation(mismatch=0.3), draws=5, seed=1)
    np.testing.assert_array_equal(a, evaluate(net, task, Perturbation(mismatch=0.3), draws=5, seed=1))


def test_bad_perturbations_are_rejected():
    with pytest.raises(ValueError, match="bits"):
        Perturbation(bits=1)
    with pytest.raises(ValueError, match="mismatch"):
        Perturbation(mismatch=-0.1)
    with pytest.raises(ValueError, match="death"):
        Perturbation(death=1.0)
    net = random_network(np.random.default_rng(7), n_in=2)
    with pytest.raises(ValueError, match="inputs"):
        evaluate(net, tiny_task())


def test_robustness_table_groups_by_method():
    rng = np.random.default_rng(8)
    nets = []
    for i, method in enumerate(("a", "a", "b")):
        net = random_network(rng, n_in=1)
        net.meta = {"method": method, "seed": i}
        nets.append(net)
    cols = (Perturbation(), Perturbation(mismatch=0.2), Perturbation(bits=3), Perturbation(death=0.4))
    table = robustness_table(nets, tiny_task(), columns=cols, draws=3)
    assert table["columns"] == ["mismatch 0%", "mismatch 20%", "3 bit", "death 40%"]
    assert set(table["methods"]) == {"a", "b"}
    assert table["methods"]["a"]["mismatch 20%"]["n"] == 6 and table["methods"]["b"]["3 bit"]["n"] == 3
    for summary in table["methods"]["a"].values():
        assert summary["q25"] <= summary["median"] <= summary["q75"]
    text = format_table(table)
    assert text.splitlines()[0].startswith("method") and len(text.splitlines()) == 3


def chip_params(net, level, draws=8, seed=0):
    """(params realised on `draws` sampled chips, the draw): the same rng stream as apply_perturbation."""
    mismatch = ChipMismatch(level)
    draw = ChipDraw.sample(mismatch, net.n_neurons, draws, np.random.default_rng(seed), np, np.float64)
    params = perturbed(net, Perturbation(chip=mismatch), draws=draws, seed=seed)
    return params, draw


@pytest.mark.parametrize("level", [0.0, {"dmem": 0.0}])
def test_chip_mismatch_at_zero_cv_is_the_nominal_network(level):
    net = random_network(np.random.default_rng(10), n_in=2)
    nominal = lif_params(net, "numpy", draws=3, dtype=np.float64)
    params = perturbed(net, Perturbation(chip=ChipMismatch(level)), draws=3)
    for name in ("tau_mem", "tau_fast", "tau_slow", "v_th", "v_rest", "bias", "w_in", "w_fast", "w_slow", "w_out"):
        np.testing.assert_array_equal(getattr(params, name), getattr(nominal, name), err_msg=name)
    assert params.w_in_neg is None
    x = np.random.default_rng(1).normal(0, 1, (3, 100, 2))
    np.testing.assert_array_equal(simulate(params, x).outputs, simulate(nominal, x).outputs)
    assert not Perturbation(chip=ChipMismatch(level)).stochastic


def test_chip_slow_gains_are_per_neuron_with_independent_exc_and_inh_draws():
    net = random_network(np.random.default_rng(11), n=60)
    params, draw = chip_params(net, {"wsyn_slow": 0.2})
    nominal = lif_params(net, "numpy", draws=8, dtype=np.float64)
    for name in ("tau_mem", "tau_fast", "tau_slow", "v_th", "v_rest", "bias", "w_in", "w_fast"):
        np.testing.assert_array_equal(getattr(params, name), getattr(nominal, name), err_msg=name)
    ratio = params.w_slow / nominal.w_slow  # [D, pre, post]
    exc, inh = draw.wsyn[1][:, 0], draw.wsyn[3][:, 0]  # NMDA and GABA_B multipliers [D, N]
    positive = nominal.w_slow > 0
    np.testing.assert_allclose(ratio, np.where(positive, exc[:, None, :], inh[:, None, :]), rtol=1e-12)
    assert np.std(np.log(exc / inh)) > 0.2  # independent draws: a neuron's E and I gains differ
    assert abs(np.std(np.log(exc)) - np.sqrt(np.log(1 + 0.2**2))) < 0.03


def test_chip_inputs_use_the_synapse_type_of_the_current_sign():
    net = random_network(np.random.default_rng(12), n=40, n_in=2)
    params, draw = chip_params(net, {"wsyn_fast": 0.3})
    ampa, gaba_a = draw.wsyn[0], draw.wsyn[2]  # [D, 1, N]
    w = net.w_in[None]
    np.testing.assert_allclose(params.w_in, w * np.where(w > 0, ampa, gaba_a), rtol=1e-12)
    np.testing.assert_allclose(params.w_in_neg, w * np.where(w > 0, gaba_a, ampa), rtol=1e-12)
    x = np.zeros((1, 30, 2))
    x[0, :10, 0], x[0, 10:20, 0] = 1.0, -1.0
    drive = input_drive(params, x, np)
    np.testing.assert_allclose(drive[:, 0, 5], params.w_in[:, 0])
    np.testing.assert_allclose(drive[:, 0, 15], -params.w_in_neg[:, 0])


def test_chip_dsyn_shortens_tau_and_scales_charge_per_type():
    net = random_network(np.random.default_rng(13), n=30)
    params, draw = chip_params(net, {"dsyn": 0.15})
    nominal = lif_params(net, "numpy", draws=8, dtype=np.float64)

    def decay(tau):
        return -np.expm1(-1.0 / tau)

    m1, m3 = draw.dsyn[1], draw.dsyn[3]
    np.testing.assert_allclose(decay(params.tau_slow), decay(nominal.tau_slow) * np.sqrt(m1 * m3), rtol=1e-9)
    charge = params.w_slow / (params.tau_slow * decay(params.tau_slow))  # per event, float model
    nominal_charge = nominal.w_slow / (nominal.tau_slow * decay(nominal.tau_slow))
    np.testing.assert_allclose(charge / nominal_charge, np.where(nominal.w_slow > 0, 1 / m1, 1 / m3), rtol=1e-9)


def test_chip_leak_threshold_and_drive():
    net = random_network(np.random.default_rng(14), n=30)
    params, draw = chip_params(net, {"dmem": 0.15, "theta": 0.1, "idc": 0.2})
    nominal = lif_params(net, "numpy", draws=8, dtype=np.float64)
    np.testing.assert_allclose(params.tau_mem, nominal.tau_mem / draw.dmem, rtol=1e-12)
    np.testing.assert_allclose(params.v_th - net.v_reset, (nominal.v_th - net.v_reset) * draw.theta, rtol=1e-12)
    # the chip integrates unscaled currents with a leak changed by m_dmem: a·I is kept, the drive scales by m_idc
    a, a0 = 1 / params.tau_mem, 1 / nominal.tau_mem
    drive, drive0 = params.v_rest - net.v_reset + params.bias, nominal.v_rest - net.v_reset + nominal.bias
    np.testing.assert_allclose(a * drive, a0 * drive0 * draw.idc, rtol=1e-9)
    np.testing.assert_allclose(a * params.w_slow, a0 * nominal.w_slow, rtol=1e-9)
    np.testing.assert_allclose(a * params.w_in, a0 * nominal.w_in, rtol=1e-9)
