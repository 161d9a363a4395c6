"""Scale-out on Dask: the same run on a local cluster gives the same records and summary."""
import json
import os
import signal
import time
from pathlib import Path

import pytest

from harness.cluster import check_cluster, share, task_options
from harness.run_config import RunConfigError, config_from_dict
from tests.test_pipeline import harness, write_config

pytest.importorskip("distributed", reason="needs Dask's distributed (the cluster extra, also in the test extra)")


def results_without_timestamps(run: Path) -> dict:
    results = {}
    for path in sorted((run / "records").rglob("*.json")):
        record = json.loads(path.read_text())
        for entry in record["conditions"].values():
            entry.pop("recorded")
        results[str(path.relative_to(run))] = record
    summary = json.loads((run / "summary.json").read_text())
    for test in summary["tests"]:
        test.pop("elapsed_s", None)
    results["summary"] = {key: summary[key] for key in ("outcome", "totals", "tests")}
    return results


def test_a_local_cluster_gives_the_records_and_summary_of_an_in_process_run(tmp_path):
    config = write_config(tmp_path, chips=4, chunk=1)
    local = harness("run", str(config), "--out", "local", "--no-progress", cwd=tmp_path)
    assert local.returncode == 0, local.stdout + local.stderr
    dask = harness("run", str(config), "--out", "dask", "--no-progress", "--cluster", "local:2", cwd=tmp_path)
    assert dask.returncode == 0, dask.stdout + dask.stderr
    assert results_without_timestamps(tmp_path / "dask") == results_without_timestamps(tmp_path / "local")


@pytest.mark.parametrize("spec", ["", "local", "local:3", "tcp://127.0.0.1:8786"])
def test_cluster_addresses(spec):
    assert check_cluster(spec) == spec


def test_bad_cluster_addresses_are_configuration_errors():
    with pytest.raises(RunConfigError, match="field 'cluster' is invalid: cluster 'local:0'"):
        config_from_dict({"cluster": "local:0"}, "run.toml")
    with pytest.raises(RunConfigError, match="expected '' \\(in process\\), 'local'"):
        config_from_dict({"cluster": "yarn"}, "run.toml")


def test_gpu_chunks_ask_for_a_gpu_worker():
    assert task_options("cupy")["resources"] == {"GPU": 1}
    assert "resources" not in task_options("numpy") and task_options("numpy")["pure"] is False


def _length(value):
    return len(value)


def test_shared_data_survives_the_death_of_the_worker_that_holds_it():
    """What the chunks of a condition share is recomputed when its worker dies. Scattered
    data would be lost: even broadcast, the active memory manager soon keeps one replica,
    and its loss cancels every chunk (dask/distributed#3149)."""
    from distributed import Client, LocalCluster  # noqa: PLC0415
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        shared = share(client, list(range(1000)))
        assert client.submit(_length, shared, pure=False).result(timeout=60) == 1000
        time.sleep(3)  # past the memory manager's interval (2 s)
        holders = list(client.who_has(shared)[shared.key])
        os.kill(client.run(os.getpid, workers=holders[:1])[holders[0]], signal.SIGKILL)
        results = [client.submit(_length, shared, pure=False) for _ in range(4)]
        assert [r.result(timeout=60) for r in results] == [1000] * 4
