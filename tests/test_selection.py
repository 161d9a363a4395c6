"""Candidate selection on sampled compiled chips (`harness.selection`)."""
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

import harness.selection as selection
import sim.methods
from harness.commands.train import train as train_cli
from harness.networks import cache_path, load_run_task, trained_network
from harness.run_config import RunConfigError, config_from_dict
from harness.selection import (SELECTION_SEED_BASE, candidate_seeds, chip_score, default_candidates,
                               select_network, selection_seeds)
from harness.shared_readout import sampled_seeds
from sim.netfile import load_network
from sim.tasks import load_task
from tests.networks import random_network

TINY = ["--task", "xor", "--backend", "numpy", "--neurons", "40", "--epochs", "1", "--teacher-epochs", "1",
        "--train-samples", "16", "--val-samples", "8", "--test-samples", "8"]


def test_candidate_seeds_start_at_the_seed_and_never_meet_another_seeds():
    assert candidate_seeds(3, 1) == [3]
    assert candidate_seeds(3, 4) == candidate_seeds(3, 4) and candidate_seeds(3, 4)[:2] == candidate_seeds(3, 2)
    one, two = candidate_seeds(1, 8), candidate_seeds(2, 8)
    assert len(set(one)) == 8 and not set(one) & set(two)
    assert all(2**32 <= s < 2**63 for s in one[1:])
    with pytest.raises(ValueError, match="candidates must be >= 1"):
        candidate_seeds(0, 0)


@pytest.mark.parametrize("judged", [range(0, 64), range(5, 69), range(SELECTION_SEED_BASE - 3, SELECTION_SEED_BASE + 40),
                                    range(2**64 - 64, 2**64)])
def test_selection_chips_are_never_judged_nor_shared_readout_chips(judged):
    chips = selection_seeds(16, judged)
    assert len(set(chips)) == 16 and not set(chips) & set(judged)
    assert not set(chips) & set(sampled_seeds(16, judged))
    assert all(0 <= s < 2**64 for s in chips)


def test_score_is_the_mean_and_lower_quartile():
    acc = np.array([0.5, 0.75, 1.0, 1.0])
    assert chip_score(acc) == pytest.approx((0.8125 + np.percentile(acc, 25)) / 2)


def test_keeps_the_candidate_with_the_best_score(monkeypatch):
    """Each candidate's chip accuracies are given; the best score (the tie goes to the first) is kept."""
    task = load_task("xor", 0, n_train=16, n_val=8, n_test=8)
    seeds = candidate_seeds(7, 4)
    given = [np.array([0.5, 1.0]), np.array([0.75, 1.0]), np.array([1.0, 0.5]), np.array([1.0, 0.75])]
    trained, judged_on = [], []

    def fake_train(method, task, *, seed, **_):
        net = random_network(np.random.default_rng(seed % 2**32), n_in=task.n_in, n_out=task.n_out)
        net.meta.update(seed=seed)
        trained.append(seed)
        return net

    def fake_evaluate(compiled, task, *, split, chip_seeds, **_):
        judged_on.append((split, list(chip_seeds)))
        return given[seeds.index(compiled.meta["seed"])]  # candidates run concurrently: by seed, not by order

    monkeypatch.setattr(sim.methods, "train", fake_train)
    monkeypatch.setattr(selection, "evaluate_batched", fake_evaluate)
    net = select_network("bptt", task, candidates=4, seed=7, selection_chips=2, judged=range(0, 64),
                         compile_candidate=lambda candidate, on: candidate)
    meta = net.meta["selection"]
    assert sorted(trained) == sorted(seeds)
    assert meta["chosen"] == 1 and meta["scores"][1] == max(meta["scores"]) == meta["scores"][3]
    assert net.meta["seed"] == 7 and meta["candidate_seeds"] == seeds
    assert all(split == "val" and seeds == selection_seeds(2, range(0, 64)) for split, seeds in judged_on)
    assert meta["chip_seeds"] == [selection_seeds(2)[0], selection_seeds(2)[-1] + 1]


def test_concurrent_candidates_give_what_one_after_another_gives(monkeypatch):
    """Candidates train and score on threads: the same scores and chosen weights as one by one."""
    task = load_task("xor", 0, n_train=16, n_val=8, n_test=8)
    options = dict(candidates=3, seed=0, selection_chips=2, backend="numpy", n_neurons=40, epochs=1, teacher_epochs=1)
    monkeypatch.setattr(selection, "worker_threads", lambda jobs: min(jobs, 3))
    concurrent = select_network("ads", task, **options)
    monkeypatch.setattr(selection, "worker_threads", lambda jobs: 1)
    one_by_one = select_network("ads", task, **options)
    assert concurrent.meta["selection"] == one_by_one.meta["selection"]
    assert np.array_equal(concurrent.w_slow, one_by_one.w_slow) and np.array_equal(concurrent.w_out, one_by_one.w_out)


def test_an_error_in_one_candidate_stops_the_others(monkeypatch):
    task = load_task("xor", 0, n_train=16, n_val=8, n_test=8)
    stopped = threading.Event()

    def fake_train(method, task, *, seed, progress, **_):
        if seed == 3:
            time.sleep(0.2)  # candidate 1 is running by now
            raise ValueError("candidate 0 cannot train")
        try:
            for step in range(10_000):  # at most 100 s: stopped long before
                progress({"stage": "ads", "step": step})
                time.sleep(0.01)
        except selection.SelectionStopped:
            stopped.set()
            raise
        raise AssertionError("candidate 1 was never stopped")

    monkeypatch.setattr(sim.methods, "train", fake_train)
    monkeypatch.setattr(selection, "worker_threads", lambda jobs: 2)
    with pytest.raises(ValueError, match="candidate 0 cannot train"):
        select_network("bptt", task, candidates=3, seed=3, selection_chips=2, compile_candidate=lambda net, on: net)
    assert stopped.wait(10)


def test_train_cli_records_the_choice(tmp_path):
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(train_cli, [*TINY, "--out", str(out), "--candidates", "2", "--selection-chips", "2"])
    assert result.exit_code == 0, result.output
    meta = load_network(out).meta
    chosen = meta["selection"]
    assert f"candidate {chosen['chosen']} of 2" in result.output
    assert chosen["chosen"] == int(np.argmax(chosen["scores"])) and len(chosen["chip_accuracies"]) == 2
    assert chosen["split"] == "val" and chosen["candidate_seeds"] == candidate_seeds(0, 2)
    assert meta["seed"] == 0 and chosen["chip_seeds"][0] == SELECTION_SEED_BASE


@pytest.mark.parametrize("args, message", [
    (["--candidates", "0"], "'--candidates': 0 is not in the range x>=1"),
    (["--candidates", "1", "--selection-chips", "4"], "--selection-chips: only with --candidates 2 or more"),
    (["--method", "force", "--selection-chips", "4"], "--selection-chips: only with --candidates 2 or more"),
    (["--candidates", "2", "--selection-chips", "0"], "'--selection-chips': 0 is not in the range x>=1")])
def test_train_cli_bad_candidates_is_a_one_line_error(tmp_path, args, message):
    result = CliRunner().invoke(train_cli, ["--out", str(tmp_path / "o.npz"), *args])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value", [0, -1, "three", True, 2.5])
def test_run_config_rejects_bad_candidates(value):
    with pytest.raises(RunConfigError, match=r"field 'candidates' must be \"auto\" or an integer >= 1"):
        config_from_dict({"candidates": value})


def test_every_task_and_method_defaults_to_one_network():
    assert default_candidates("xor", "ads") == default_candidates("keyword", "ads") == 1
    assert default_candidates("xor", "bptt") == 1


def test_run_config_candidates_name_the_cached_network(tmp_path):
    auto = config_from_dict({"cache": str(tmp_path)})
    three = config_from_dict({"cache": str(tmp_path), "candidates": 3})
    assert three.candidates == 3 and auto.candidates == "auto"
    one = config_from_dict({"cache": str(tmp_path), "candidates": 1})
    assert cache_path(three, "xor", "ads") != cache_path(one, "xor", "ads")
    assert cache_path(auto, "xor", "ads") == cache_path(one, "xor", "ads")
    assert cache_path(auto, "xor", "bptt") == cache_path(one, "xor", "bptt")
    assert cache_path(three, "xor", "ads") != cache_path(config_from_dict({"cache": str(tmp_path), "candidates": 3,
                                                                           "readout": "shared"}), "xor", "ads")
    assert cache_path(three, "xor", "ads") != cache_path(config_from_dict({"cache": str(tmp_path), "candidates": 3,
                                                                           "chips": 8}), "xor", "ads")
    assert cache_path(three, "xor", "ads") != cache_path(config_from_dict({"cache": str(tmp_path), "candidates": 3,
                                                                           "replicas": 3}), "xor", "ads")


def test_a_run_trains_its_candidates_once_and_never_on_its_judged_chips(tmp_path):
    config = config_from_dict({"cache": str(tmp_path), "candidates": 2, "chips": 4, "backend": "numpy",
                               "sizes": {"n_train": 16, "n_val": 8, "n_test": 8, "n_neurons": 32, "epochs": 1}})
    task = load_run_task(config, "xor")
    net, reused = trained_network(config, task, "xor", "ads")
    chosen = net.meta["selection"]
    assert not reused and chosen["candidates"] == 2 and len(chosen["scores"]) == 2
    assert chosen["chip_seeds"] == [SELECTION_SEED_BASE, SELECTION_SEED_BASE + 16] and chosen["samples"] == 8
    again, reused = trained_network(config, task, "xor", "ads")
    assert reused and again.meta["selection"] == chosen
