"""How many Python threads may run the simulator's compiled kernels at once.

Numba kernels release the GIL (`nogil=True`), so independent jobs (e.g. the candidates of
`harness.selection`) can share the CPU cores from threads. Parallel kernels launched from
two threads at once are safe under Numba's `omp` and `tbb` threading layers; the
`workqueue` layer, used where neither is installed, aborts the process, so there the jobs
run one after another. Each job's parallel kernels take its share of the cores
(`share_cores`), so that the jobs do not oversubscribe them.
"""
from __future__ import annotations

import os

import numba
from numba import njit, prange


@njit(parallel=True, cache=True)
def _launch(n: int) -> int:
    """A trivial parallel kernel: running it makes Numba pick its threading layer."""
    total = 0
    for i in prange(n):
        total += i
    return total


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_threads(jobs: int) -> int:
    """Threads for `jobs` independent jobs that run Numba kernels: one per job, at most one
    more than the usable cores (a core whose job waits on the GIL or on memory has another
    to run; more threads would only hold more memory), and 1 where the threading layer
    cannot take concurrent launches."""
    _launch(2)
    if numba.threading_layer() == "workqueue":
        return 1
    return max(1, min(jobs, usable_cores() + 1))


def share_cores(workers: int) -> None:
    """Bound the calling thread's parallel kernels to its share of the cores when `workers`
    threads run jobs at once (at least one thread; rounded up)."""
    numba.set_num_threads(max(1, min(-(-usable_cores() // workers), numba.config.NUMBA_NUM_THREADS)))
