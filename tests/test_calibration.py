"""Per-chip calibration: class-balanced trials from train/val only, a cross-validated ridge fit
with intercept, the same fit in process, on the batched simulator and through a board."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from drivers.emulator import EmulatorChip
from drivers.population import SimulatedPopulation
from drivers.targets import open_chip
from harness.calibration import (NOISE_SEED_BASE, CalibrationError, RidgeChoice, calibration_data, fit_readouts,
                                 summed_moments, trial_moments)
from harness.calibration_file import Calibration
from harness.cli import main
from harness.compiler import compile_network
from harness.compiler.decoding import Decoder
from harness.deploy import calibrate_on_chip, evaluate_deployments, evaluate_on_chip, population_spikes
from harness.networks import compiled_fingerprint
from sim.tasks.xor import make_xor
from tests.networks import random_network
from tests.test_serial_board import start_emulator, stop


@pytest.fixture(scope="module")
def task():
    return make_xor(0, n_train=16, n_val=8, n_test=8, n_steps=500)


@pytest.fixture(scope="module")
def compiled(task):
    network = random_network(np.random.default_rng(0), n=24, n_in=1)
    network.meta.update(task="xor", task_meta={"seed": 0, "n_train": 16, "n_val": 8, "n_test": 8, "n_steps": 500},
                        method="test")
    return compile_network(network, "dynapse1", task.train.inputs)


class RecordingChip(EmulatorChip):
    """An emulated chip that remembers every input it ran."""

    def __init__(self, *args):
        super().__init__(*args)
        self.inputs = []

    def run(self, inputs, **kwargs):
        self.inputs.append(np.array(inputs))
        return super().run(inputs, **kwargs)


def test_calibration_trials_are_class_balanced_and_never_test_trials(task, compiled):
    data = calibration_data(task, 8, "train")
    assert np.bincount(data.labels).tolist() == [4, 4]
    assert sorted(np.bincount(data.strata).tolist()) == [2, 2, 2, 2]  # every XOR sign combination twice
    with pytest.raises(CalibrationError, match="never the test split"):
        calibration_data(task, 8, "test")
    chip = RecordingChip("dynapse1", 5, "spec")
    calibrate_on_chip(compiled, chip, task, 8)
    test_inputs = compiled.encoder.encode(task.test.inputs)
    assert len(chip.inputs) == 8
    for ran in chip.inputs:
        assert not any(np.array_equal(ran, t) for t in test_inputs)
    assert any(np.array_equal(chip.inputs[0], t) for t in compiled.encoder.encode(data.inputs))


def test_the_fit_recovers_a_known_readout_with_its_intercept():
    rng = np.random.default_rng(3)
    decoder = Decoder(np.arange(6), np.zeros((6, 1)), tau_out=5.0)
    spikes = rng.random((1, 8, 60, 6)) < 0.3
    features = decoder.filtered(spikes[0])
    true_w, true_b = rng.normal(size=(6, 1)), np.array([0.7])
    targets = (features @ true_w + true_b).astype(np.float32)
    labels = np.arange(8) % 2
    data = calibration_data(make_xor(0, 8, 8, 8, 500), 8, "train")  # for its shapes only
    data = type(data)(np.zeros((8, 60, 1), np.float32), targets, np.ones((8, 60), bool), labels)
    (fitted,), (choice,) = fit_readouts(decoder, spikes, data, n_classes=2)
    assert choice.strength == 1e-4  # no noise: cross-validation picks the weakest ridge
    np.testing.assert_allclose(fitted.decode(spikes[0]), targets, atol=0.05)
    assert abs(fitted.bias[0] - 0.7) < 0.1


def test_a_normalised_decoder_calibrates_on_its_normalised_features():
    rng = np.random.default_rng(4)
    decoder = Decoder(np.arange(6), np.zeros((6, 1)), tau_out=5.0, normalised=True)
    spikes = rng.random((1, 8, 60, 6)) < 0.3
    true_w, true_b = rng.normal(size=(6, 1)), np.array([-0.4])
    targets = (decoder.features(spikes[0]) @ true_w + true_b).astype(np.float32)
    data = calibration_data(make_xor(0, 8, 8, 8, 500), 8, "train")  # for its shapes only
    data = type(data)(np.zeros((8, 60, 1), np.float32), targets, np.ones((8, 60), bool), np.arange(8) % 2)
    (fitted,), _ = fit_readouts(decoder, spikes, data, n_classes=2)
    assert fitted.normalised
    np.testing.assert_allclose(fitted.decode(spikes[0]), targets, atol=0.05)


def test_batched_and_single_chip_calibration_agree_bit_for_bit(task, compiled):
    chip = EmulatorChip("dynapse1", 7, "spec")
    decoder, ridge = calibrate_on_chip(compiled, chip, task, 4)
    data = calibration_data(task, 4, "train")
    spikes = population_spikes(compiled, compiled.encoder.encode(data.inputs), [7],
                               NOISE_SEED_BASE + np.arange(4, dtype=np.uint64),
                               SimulatedPopulation("spec", "numpy"))
    (batched,), (choice,) = fit_readouts(compiled.decoder, spikes, data, task.n_classes)
    assert choice == ridge
    assert batched.w_out.tobytes() == decoder.w_out.tobytes() and batched.bias.tobytes() == decoder.bias.tobytes()
    result = evaluate_deployments(compiled, task, chip_seeds=[6, 7], backend="numpy", samples=8, trials=(0, 4))
    assert result[4][1] == evaluate_on_chip(compiled, EmulatorChip("dynapse1", 7, "spec"), task, samples=8,
                                            decoder=decoder)
    assert result[0][1] == evaluate_on_chip(compiled, EmulatorChip("dynapse1", 7, "spec"), task, samples=8)


def test_calibration_through_a_virtual_board_equals_calibration_in_process(task, compiled):
    in_process, _ = calibrate_on_chip(compiled, EmulatorChip("dynapse1", 11, "spec"), task, 4)
    proc, port = start_emulator("--pty", "--chip-seed", "11", "--mismatch", "spec")
    try:
        board = open_chip(port, spec="dynapse1")
        try:
            over_wire, _ = calibrate_on_chip(compiled, board, task, 4)
        finally:
            board.close()
    finally:
        stop(proc)
    assert over_wire.w_out.tobytes() == in_process.w_out.tobytes()
    assert over_wire.bias.tobytes() == in_process.bias.tobytes()


def test_calibrate_and_deploy_commands(tmp_path, task, compiled):
    path = tmp_path / "c.npz"
    compiled.save(path)
    runner = CliRunner()
    result = runner.invoke(main, ["calibrate", str(path), "--chip-seed", "2", "--trials", "4", "-o",
                                  str(tmp_path / "cal.json")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "cal.json").read_text())
    assert record["chip"]["chip_id"] == "seed:2" and record["network"] == compiled_fingerprint(compiled)
    assert record["trials"] == 4 and record["split"] == "train"
    calibration = Calibration.load(tmp_path / "cal.json")
    expected = evaluate_on_chip(compiled, EmulatorChip("dynapse1", 2, "spec"), task, decoder=calibration.decoder)
    result = runner.invoke(main, ["deploy", str(path), "--chip-seed", "2", "--calibration", str(tmp_path / "cal.json")])
    assert result.exit_code == 0 and f"test accuracy {100 * expected:.1f}%" in result.output
    assert "calibrated on 4 train trials" in result.output
    result = runner.invoke(main, ["deploy", str(path), "--chip-seed", "3", "--calibration", str(tmp_path / "cal.json")])
    assert result.exit_code == 1 and "made for chip seed:2, not seed:3" in result.output
    result = runner.invoke(main, ["calibrate", str(path), "--trials", "3", "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 1 and "multiple of 2" in result.output and not (tmp_path / "x.json").exists()
    (tmp_path / "bad.json").write_text("[1]")
    result = runner.invoke(main, ["deploy", str(path), "--calibration", str(tmp_path / "bad.json")])
    assert result.exit_code == 1 and "not a calibration file" in result.output


def test_a_shared_decoder_calibrates_from_the_nominal_readout_it_carries():
    rng = np.random.default_rng(5)
    spikes = rng.random((2, 8, 60, 6)) < 0.3
    nominal_w = rng.normal(size=(6, 1))
    nominal = Decoder(np.arange(6), nominal_w, tau_out=5.0)
    targets = (nominal.filtered(spikes[0]) @ nominal_w + rng.normal(0, 2.0, (8, 60, 1))).astype(np.float32)
    data = calibration_data(make_xor(0, 8, 8, 8, 500), 8, "train")  # for its shapes only
    data = type(data)(np.zeros((8, 60, 1), np.float32), targets, np.ones((8, 60), bool), np.arange(8) % 2)
    shared = Decoder(np.arange(6), rng.normal(size=(6, 1)), 5.0, np.zeros(1), prior=nominal_w)
    from_nominal, nominal_choices = fit_readouts(nominal, spikes, data, n_classes=2)
    from_shared, shared_choices = fit_readouts(shared, spikes, data, n_classes=2)
    assert [c.towards for c in nominal_choices] == ["compiled" if c.towards == "nominal" else c.towards
                                                    for c in shared_choices]
    assert "nominal" in [c.towards for c in shared_choices]  # the noisy targets favour the nominal readout
    assert str(RidgeChoice(1e-3, "nominal")).endswith("towards the nominal chip's readout")
    for a, b in zip(from_nominal, from_shared):  # the shared w_out plays no part: calibrated as from the nominal
        assert a.w_out.tobytes() == b.w_out.tobytes() and a.bias.tobytes() == b.bias.tobytes() and b.prior is None
    unshared, _ = fit_readouts(Decoder(np.arange(6), shared.w_out, 5.0), spikes, data, n_classes=2)
    assert not np.allclose(unshared[0].w_out, from_shared[0].w_out)
    assert Decoder.from_dict(shared.to_dict()).prior.tobytes() == nominal_w.tobytes()


def test_a_calibration_file_keeps_a_ridge_towards_the_nominal_readout(tmp_path):
    decoder = Decoder(np.arange(3), np.ones((3, 1)), 5.0, np.zeros(1))
    made = Calibration({"spec_name": "dynapse1", "spec_version": "1", "chip_id": "seed:1", "mismatch": "spec"},
                       "abc", 8, "train", RidgeChoice(1e-3, "nominal"), decoder)
    made.save(tmp_path / "cal.json")
    assert Calibration.load(tmp_path / "cal.json").ridge == RidgeChoice(1e-3, "nominal")
    record = json.loads((tmp_path / "cal.json").read_text())
    record["ridge"]["towards"] = "nowhere"
    (tmp_path / "cal.json").write_text(json.dumps(record))
    with pytest.raises(CalibrationError) as failed:
        Calibration.load(tmp_path / "cal.json")
    assert "ridge.towards" in str(failed.value) and "\n" not in str(failed.value)


def test_trial_by_trial_traces_and_moments_are_those_of_the_whole_batch():
    """Filtering each trial up to its last decision step gives the same bits as filtering the
    batch; summed moments are the per-trial moments summed."""
    rng = np.random.default_rng(5)
    decoder = Decoder(np.arange(7), np.zeros((7, 1)), tau_out=9.0)
    spikes = rng.random((6, 80, 7)) < 0.2
    mask = np.zeros((6, 80), bool)
    for trial, (first, last) in enumerate([(10, 30), (50, 80), (0, 5), (20, 21), (40, 79), (60, 70)]):
        mask[trial, first:last] = True
    assert np.array_equal(decoder.masked_traces(spikes, mask), decoder.filtered(spikes)[mask])
    data = type(calibration_data(make_xor(0, 8, 8, 8, 500), 8, "train"))(
        np.zeros((6, 80, 1), np.float32), rng.normal(size=(6, 80, 1)).astype(np.float32), mask, np.arange(6) % 2)
    each = trial_moments(decoder, spikes, data)
    traces = decoder.filtered(spikes)
    x = np.concatenate([traces[2][mask[2]], np.ones((int(mask[2].sum()), 1))], axis=1)
    assert np.array_equal(each[0][2], x.T @ x)
    gram, cross, energy = summed_moments(decoder, spikes, data)
    assert np.array_equal(gram, each[0].sum(0)) and np.array_equal(cross, each[1].sum(0)) and energy == each[2].sum()
