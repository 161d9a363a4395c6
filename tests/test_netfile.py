import numpy as np
import pytest

from sim.netfile import NetworkFileError, load_network, save_network
from tests.networks import random_network


def test_round_trip_keeps_arrays_and_metadata(tmp_path):
    net = random_network(np.random.default_rng(0))
    net.meta.update(task="xor", method="ads", seed=3, metrics={"test_accuracy": 0.97})
    loaded = load_network(save_network(net, tmp_path / "net.npz"))
    for name, value in net.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, name), value)
    assert loaded.meta["task"] == "xor" and loaded.meta["metrics"]["test_accuracy"] == 0.97
    assert "numpy" in loaded.meta["packages"] and loaded.tau_out == net.tau_out


def test_truncated_file_is_named(tmp_path):
    path = save_network(random_network(np.random.default_rng(0)), tmp_path / "net.npz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(NetworkFileError, match="net.npz: not a saved network"):
        load_network(path)


def test_other_npz_is_not_a_network(tmp_path):
    np.savez(tmp_path / "data.npz", inputs=np.zeros((2, 3, 1)))
    with pytest.raises(NetworkFileError, match="no metadata record"):
        load_network(tmp_path / "data.npz")
    with pytest.raises(NetworkFileError, match="no such network file"):
        load_network(tmp_path / "missing.npz")
