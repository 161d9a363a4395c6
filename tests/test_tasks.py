"""Tasks: XOR properties, keyword determinism and balance, user-data validation, registry."""
import numpy as np
import pytest

from sim.tasks import TaskError, UserDataError, load_task
from sim.tasks.keyword import make_keyword
from sim.tasks.userdata import load_userdata
from sim.tasks.xor import make_xor


def test_xor_targets_match_labels_and_window():
    task = make_xor(seed=0, n_train=32, n_val=8, n_test=8)
    d = task.train
    assert np.all(np.bincount(d.labels) == 16)
    window = d.targets[..., 0][d.mask]
    assert set(np.unique(window)) <= {-1.0, 1.0}
    for i in range(len(d)):
        levels = np.unique(d.targets[i, d.mask[i], 0])
        assert levels.tolist() == [1.0 if d.labels[i] else -1.0]
    assert task.accuracy(d.targets, d) == 1.0


def test_keyword_deterministic_balanced_and_scaled():
    a = make_keyword(seed=3, n_train=12, n_val=4, n_test=4, duration_ms=1500)
    b = make_keyword(seed=3, n_train=12, n_val=4, n_test=4, duration_ms=1500)
    c = make_keyword(seed=4, n_train=12, n_val=4, n_test=4, duration_ms=1500)
    assert np.array_equal(a.train.inputs, b.train.inputs)
    assert not np.array_equal(a.train.inputs, c.train.inputs)
    assert a.train.inputs.shape == (12, 1500, 16)
    assert np.bincount(a.train.labels).tolist() == [6, 6]
    assert 0.0 <= a.train.inputs.min() and a.train.inputs.max() < 1.5
    assert np.all(a.train.mask.sum(1) > 0)
    assert a.accuracy(a.train.targets, a.train) == 1.0


def test_keyword_too_short_is_an_error():
    with pytest.raises(ValueError, match="duration_ms"):
        make_keyword(seed=0, n_train=4, n_val=2, n_test=2, duration_ms=600)


def _save(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_userdata_splits_and_targets(tmp_path):
    rng = np.random.default_rng(0)
    path = _save(tmp_path, inputs=rng.normal(size=(40, 50, 3)), labels=np.arange(40) % 3)
    task = load_userdata(path, seed=1)
    assert (len(task.train), len(task.val), len(task.test)) == (28, 6, 6)
    assert task.n_out == 3 and task.n_classes == 3
    assert task.accuracy(task.test.targets, task.test) == 1.0
    again = load_task(str(path), seed=1)
    assert np.array_equal(again.test.labels, task.test.labels)


@pytest.mark.parametrize("arrays, message", [
    ({"labels": np.zeros(10, int)}, "missing array 'inputs'"),
    ({"inputs": np.zeros((10, 5)), "labels": np.zeros(10, int)}, "'inputs' must be 3-D"),
    ({"inputs": np.zeros((10, 5, 2)), "labels": np.zeros(9, int)}, "'labels' has 9 entries"),
    ({"inputs": np.full((10, 5, 2), "a"), "labels": np.zeros(10, int)}, "'inputs' must be real numbers"),
    ({"inputs": np.full((10, 5, 2), np.nan), "labels": np.zeros(10, int)}, "NaN"),
    ({"inputs": np.zeros((10, 5, 2)), "labels": np.arange(10), "n_classes": 3}, "'labels' must lie in"),
    ({"inputs": np.zeros((3, 5, 2)), "labels": np.zeros(3, int)}, "too few samples"),
    ({"inputs": np.zeros((10, 5, 2)), "labels": np.zeros(10)}, "'labels' must be integers"),
])
def test_userdata_errors_name_file_and_field(tmp_path, arrays, message):
    path = _save(tmp_path, **arrays)
    with pytest.raises(UserDataError, match=message) as info:
        load_userdata(path)
    assert str(path) in str(info.value)


def test_registry_errors(tmp_path):
    with pytest.raises(TaskError, match="xor, keyword"):
        load_task("nope")
    with pytest.raises(TaskError, match="duration_ms"):
        load_task("xor", duration_ms=10)
    with pytest.raises(UserDataError, match="no such data file"):
        load_task(str(tmp_path / "missing.npz"))


@pytest.mark.parametrize("name, sizes", [("xor", {"n_train": 5, "n_val": 3, "n_test": 4, "n_steps": 500}),
                                         ("keyword", {"n_train": 3, "n_val": 2, "n_test": 2, "duration_ms": 1200})])
def test_task_meta_rebuilds_the_same_task(name, sizes):
    """A saved network names its task by meta; rebuilding from it gives the same splits."""
    task = load_task(name, 3, **sizes)
    meta = dict(task.meta)
    rebuilt = load_task(name, meta.pop("seed"), **meta)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(rebuilt, split).inputs, getattr(task, split).inputs)
        np.testing.assert_array_equal(getattr(rebuilt, split).labels, getattr(task, split).labels)
