"""Scale-out on Dask (`distributed`, the `cluster` extra): chunks of chips become tasks.

`cluster` in a run configuration (or `harness run --cluster`) names where the chips run:

    ""                  in process (the default)
    "local" / "local:N" a LocalCluster of N worker processes (default: one per core)
    "tcp://HOST:PORT"   an existing scheduler (`dask scheduler`, SSHCluster, ...)

The suite engine submits each chunk of chips as a task (`client.map`, `pure=False`,
retried when a worker is lost) and writes a chunk's records as its result arrives
(`as_completed`), so an interrupted distributed run resumes like a local one. With the
CuPy backend, tasks ask for the worker resource `GPU` (start GPU workers with
`dask worker ADDRESS --resources GPU=1`). See docs/cluster.md.
"""
from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

RETRIES = 2  # a chunk whose worker died (or that raised) is run again this many times
REACH_TIMEOUT_S = 3.0     # a scheduler must accept a TCP connection this fast before a run starts
CONNECT_TIMEOUT = "10s"   # and a Dask client this fast once it runs


class ClusterError(RuntimeError):
    """The cluster cannot be used: `distributed` is missing or the scheduler cannot be reached."""


def check_cluster(spec: str) -> str:
    """`spec` if it names a cluster this module can open (see the module docstring), else ValueError."""
    if spec in ("", "local"):
        return spec
    if spec.startswith("local:"):
        workers = spec.split(":", 1)[1]
        if not workers.isdigit() or int(workers) < 1:
            raise ValueError(f"cluster {spec!r}: local:N needs a worker count N >= 1")
        return spec
    if spec.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        return spec
    raise ValueError(f"cluster {spec!r}: expected '' (in process), 'local', 'local:N' or a scheduler address "
                     "like tcp://host:8786")


def check_reachable(spec: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """ClusterError unless `distributed` is installed and the scheduler of a `tcp://` or `tls://`
    `spec` accepts a connection within `timeout` seconds (a local cluster is always reachable)."""
    _distributed()
    if not spec.startswith(("tcp://", "tls://")):
        return
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ClusterError(f"cluster {spec!r}: expected a scheduler address like tcp://host:8786")
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {spec} within {timeout:g} s: "
                           f"{exc.strerror or exc}") from None


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ClusterError("a cluster needs Dask's distributed package: pip install 'snn-hil-harness[cluster]'") \
            from None
    return distributed


def open_client(spec: str) -> Any:
    """A `distributed.Client` for `spec` (never ''), with its own LocalCluster when local."""
    distributed = _distributed()
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    if spec.startswith("local"):
        workers = int(spec.split(":", 1)[1]) if ":" in spec else (os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster)
    try:
        return Client(spec, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {spec}: {exc}") from None


def close_client(client: Any) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def share(client: Any, value: Any) -> Any:
    """A future of `value` for many tasks to use. It is a task's result, not scattered data:
    the scheduler recomputes a result lost with its worker, while scattered data (of which
    the active memory manager soon keeps one replica, even when broadcast) lost that way
    cancels every task that needs it (dask/distributed#3149)."""
    return client.submit(_value, value, pure=False)


def _value(value: Any) -> Any:
    return value


def task_options(backend: str) -> dict[str, Any]:
    """Keyword arguments of `client.map` for chunks of chips on `backend`."""
    options: dict[str, Any] = {"pure": False, "retries": RETRIES}
    if backend == "cupy":
        options["resources"] = {"GPU": 1}
    return options
