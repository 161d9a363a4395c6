"""How many threads may run the simulator's kernels at once (`sim.concurrency`)."""
import numba

import sim.concurrency as concurrency


def test_one_thread_per_job_at_most_one_more_than_the_cores(monkeypatch):
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")  # whichever layer this machine has
    assert concurrency.worker_threads(1) == 1
    assert concurrency.worker_threads(64) == concurrency.usable_cores() + 1
    assert concurrency.worker_threads(2) == 2


def test_each_of_the_jobs_kernels_takes_its_share_of_the_cores(monkeypatch):
    set_to = []
    monkeypatch.setattr(numba, "set_num_threads", set_to.append)
    monkeypatch.setattr(concurrency, "usable_cores", lambda: 16)
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 16)
    for workers in (1, 3, 17):
        concurrency.share_cores(workers)
    assert set_to == [16, 6, 1]


def test_one_thread_where_the_threading_layer_is_not_threadsafe(monkeypatch):
    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    assert concurrency.worker_threads(8) == 1
