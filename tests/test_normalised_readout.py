"""The rate-normalised shared readout (`harness compile --readout shared-normalised`,
docs/fidelity.md 5.11): the decoder divides each neuron's trace by its own mean rate so far."""
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from harness.calibration import calibration_data, fit_readouts, noise_seeds
from drivers.population import SimulatedPopulation
from harness.cli import main
from harness.compiler import CompiledNetwork, CompileError, compile_network
from harness.compiler.decoding import RATE_EPS, Decoder
from harness.deploy import evaluate_deployments, population_spikes
from harness.readout_fit import ReadoutFit
from harness.report import readout_fitted
from harness.run_config import config_from_dict
from harness.shared_readout import fit_across_chips
from sim.ads import ads_config, train_ads
from sim.netfile import save_network
from sim.tasks.xor import make_xor
from sim.teacher import teacher_config, train_teacher


@pytest.fixture(scope="module")
def compiled_xor():
    task = make_xor(seed=2, n_train=64, n_val=16, n_test=32, n_steps=600)
    teacher = train_teacher(task, teacher_config("xor", n_hidden=16, epochs=12, batch_size=16, lr=2e-2), seed=0)
    net, _ = train_ads(teacher, task, ads_config("xor", n_neurons=64, epochs=1, batch_size=16), seed=0)
    return net, task, compile_network(net, "dynapse1", task.train.inputs)


def test_the_rate_is_each_neurons_mean_rate_so_far():
    spikes = np.zeros((4, 2), bool)
    spikes[1, 0] = spikes[2, :] = True
    np.testing.assert_allclose(Decoder.rate(spikes), [[0, 0], [1 / 2, 0], [2 / 3, 1 / 3], [2 / 4, 1 / 4]])


def test_a_gain_on_a_neurons_rate_cancels():
    rng = np.random.default_rng(0)
    spikes = (rng.random((3, 400, 6)) < 0.1).astype(np.float64)
    gains = rng.uniform(0.5, 2.0, 6)  # each neuron's rate scaled by mismatch
    plain = Decoder(np.arange(6), rng.normal(size=(6, 1)), 5.0, np.array([0.2]))
    normalised = Decoder(plain.neurons, plain.w_out, plain.tau_out, plain.bias, normalised=True)
    change = np.abs(normalised.decode(spikes * gains) - normalised.decode(spikes))[:, 100:].max()
    assert change < 5 * RATE_EPS * np.abs(normalised.decode(spikes)[:, 100:]).max()  # only RATE_EPS is not scaled
    assert np.abs(plain.decode(spikes * gains) - plain.decode(spikes)).max() > 0.05
    # decode (in chunks of trials) reads what a fit sees
    np.testing.assert_allclose(normalised.decode(spikes), normalised.features(spikes) @ plain.w_out + plain.bias)
    np.testing.assert_allclose(normalised.features(spikes)[..., 1],
                               plain.filtered(spikes)[..., 1] / (np.cumsum(spikes[..., 1], -1) / np.arange(1, 401)
                                                                 + RATE_EPS))


def test_the_normalised_decoder_survives_its_file(tmp_path, compiled_xor):
    _, task, compiled = compiled_xor
    shared = fit_across_chips(compiled, task, chips=2, samples=16, backend="numpy", normalised=True)
    refit = shared.report["readout_refit"]
    assert refit["normalised"] is True and refit["nominal_weight"] is not None
    assert shared.decoder.normalised and shared.decoder.prior is None  # calibration shrinks towards it
    assert readout_fitted(refit).endswith("sampled chips, rate-normalised traces")
    shared.save(tmp_path / "c.npz")
    loaded = CompiledNetwork.load(tmp_path / "c.npz")
    assert loaded.decoder.normalised and loaded.decoder.to_dict() == shared.decoder.to_dict()
    # the guard holds on the normalised readout as on the plain one
    on_nominal = evaluate_deployments(loaded, task, split="val", mismatch=0, backend="numpy")[0][0]
    assert on_nominal == pytest.approx(refit["nominal_val_accuracy"])
    plain = fit_across_chips(compiled, task, chips=2, samples=16, backend="numpy")
    assert not plain.decoder.normalised and "normalised" not in plain.decoder.to_dict()
    assert plain.decoder.prior is not None
    # a calibrated chip reads the normalised features, shrunk towards zero or the shared readout
    data = calibration_data(task, 8)
    spikes = population_spikes(shared, shared.encoder.encode(data.inputs), [3], noise_seeds(8),
                               SimulatedPopulation("spec", "numpy"))
    (calibrated,), (choice,) = fit_readouts(shared.decoder, spikes, data, task.n_classes)
    assert calibrated.normalised and choice.towards in ("zero", "compiled")
    (from_plain,), (plain_choice,) = fit_readouts(plain.decoder, spikes, data, task.n_classes)
    assert not from_plain.normalised and plain_choice.towards in ("zero", "nominal")
    with pytest.raises(ValueError, match="decoder.normalised: 'log'"):
        Decoder.from_dict(shared.decoder.to_dict() | {"normalised": "log"})


def test_harness_compile_and_the_run_offer_the_normalised_readout(tmp_path, compiled_xor):
    net, task, _ = compiled_xor
    assert config_from_dict({"readout": "shared-normalised"}).readout == "shared-normalised"
    fitted = ReadoutFit("shared-normalised").apply(compile_network(net, "dynapse1", task.train.inputs), task, "numpy")
    assert fitted.decoder.normalised
    path = tmp_path / "net.npz"
    save_network(net.replace(meta={"task": "xor", "seed": 0}), path)
    result = CliRunner().invoke(main, ["compile", str(path), "--chips", "1", "--samples", "4", "--backend", "numpy",
                                       "--readout", "shared-normalised", "--readout-chips", "1",
                                       "-o", str(tmp_path / "c.npz")])
    assert result.exit_code == 0, result.output
    assert CompiledNetwork.load(tmp_path / "c.npz").decoder.normalised


def test_a_file_with_an_unknown_normalisation_names_itself(tmp_path, compiled_xor):
    _, _, compiled = compiled_xor
    config = CompiledNetwork.load(compiled.save(tmp_path / "c.npz")).config
    record = {**config.meta["compiled"], "decoder": compiled.decoder.to_dict() | {"normalised": "log"}}
    replace(config, meta={**config.meta, "compiled": record}).save(tmp_path / "bad.npz")
    with pytest.raises(CompileError, match="bad.npz: corrupted compiled-network record"):
        CompiledNetwork.load(tmp_path / "bad.npz")


def test_two_trials_keep_a_normalised_readout_and_refit_its_intercept(compiled_xor):
    """One trial per class cannot cross-validate: a normalised decoder keeps its shipped readout
    (the strongest ridge towards it), a plain one takes the middle strength towards zero."""
    _, task, compiled = compiled_xor
    shared = fit_across_chips(compiled, task, chips=2, samples=16, backend="numpy", normalised=True)
    data = calibration_data(task, 2)
    spikes = population_spikes(shared, shared.encoder.encode(data.inputs), [3], noise_seeds(2),
                               SimulatedPopulation("spec", "numpy"))
    _, (choice,) = fit_readouts(shared.decoder, spikes, data, task.n_classes)
    assert (choice.strength, choice.towards) == (1.0, "compiled")
    plain = fit_across_chips(compiled, task, chips=2, samples=16, backend="numpy")
    _, (choice,) = fit_readouts(plain.decoder, spikes, data, task.n_classes)
    assert (choice.strength, choice.towards) == (1e-2, "zero")
