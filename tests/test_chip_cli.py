"""`harness chip info` and `harness chip run`."""
import numpy as np
from click.testing import CliRunner

from drivers.emulator import EmulatorChip
from harness.cli import main
from sim.chip.config import ChipConfig
from sim.chip.spec import load_spec


def small_config(seed: int = 0) -> ChipConfig:
    spec = load_spec("dynapse1")
    rng = np.random.default_rng(seed)
    config = ChipConfig.empty(spec)
    config.cam_source[:, :16] = rng.integers(0, spec.n_sources, (spec.n_neurons, 16))
    config.cam_type[:, :16] = rng.integers(0, 4, (spec.n_neurons, 16))
    config.idc[:] = [250, 7, 0]
    return config


def test_info_lists_geometry():
    result = CliRunner().invoke(main, ["chip", "info", "dense1k"])
    assert result.exit_code == 0, result.output
    assert "fan_in           1088" in result.output and "(N = 1024)" in result.output


def test_info_unknown_spec_is_a_clean_error():
    result = CliRunner().invoke(main, ["chip", "info", "dynapse9"])
    assert result.exit_code != 0 and "unknown chip spec 'dynapse9'" in result.output
    assert "Traceback" not in result.output


def test_run_writes_rasters_equal_to_the_emulator(tmp_path):
    config = small_config()
    config.save(tmp_path / "config.npz")
    inputs = (np.random.default_rng(1).random((60, 64)) < 0.05).astype(np.uint8)
    np.save(tmp_path / "inputs.npy", inputs)
    args = ["chip", "run", str(tmp_path / "config.npz"), "--inputs", str(tmp_path / "inputs.npy"),
            "--chips", "3", "--first-seed", "10", "--noise", "50", "--noise-seed", "9", "--backend", "numpy",
            "-o", str(tmp_path / "out.npz")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "out.npz") as out:
        spikes, seeds = out["spikes"], out["chip_seeds"]
        counters = {name: out[name] for name in ("synaptic_events", "input_events", "spike_count", "routed_events")}
    assert spikes.shape == (3, 60, 1024) and list(seeds) == [10, 11, 12]
    chip = EmulatorChip("dynapse1", chip_seed=11)
    chip.load(config)
    emulated = chip.run(inputs, noise_amplitude=50, noise_seed=9)
    np.testing.assert_array_equal(emulated.spikes, spikes[1])
    for name, values in counters.items():
        assert values.shape == (3,) and values[1] == getattr(emulated.activity, name)[0], name
    assert counters["input_events"].tolist() == [int(inputs.sum())] * 3


def test_run_rejects_bad_inputs_with_a_message(tmp_path):
    small_config().save(tmp_path / "config.npz")
    np.save(tmp_path / "inputs.npy", np.full((10, 64), 16, np.uint8))
    result = CliRunner().invoke(main, ["chip", "run", str(tmp_path / "config.npz"), "--inputs",
                                       str(tmp_path / "inputs.npy"), "-o", str(tmp_path / "out.npz")])
    assert result.exit_code != 0 and "outside 0..15" in result.output
    assert not (tmp_path / "out.npz").exists()
