"""A server loop on a daemon thread for the length of a `with` block (tests, benchmarks)."""
from __future__ import annotations

import threading
from typing import TypeVar

JOIN_TIMEOUT_S = 5.0   # how long leaving the block waits for the loop to notice `_stop`

_Self = TypeVar("_Self", bound="BackgroundLoop")


class BackgroundLoop:
    """Base of a context manager that runs `_run` on a daemon thread: entering starts it;
    leaving sets `_stop`, gives the thread JOIN_TIMEOUT_S to end, then calls `_close`."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self: _Self) -> _Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=JOIN_TIMEOUT_S)
        self._close()

    def _run(self) -> None:
        """The loop: runs until `_stop` is set."""
        raise NotImplementedError

    def _close(self) -> None:
        """Release what the loop served on, once it has ended."""
