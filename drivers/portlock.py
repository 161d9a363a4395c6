"""An exclusive lock per port URL, so two processes never talk to one board.

Device paths are locked by pyserial (`exclusive=True`, flock on the device). URLs
(socket://, rfc2217://, ...) have no device file, so they get a lock file named after
the URL under $HARNESS_LOCK_DIR (default: <tmp>/snn-hil-harness-locks). The lock is an
fcntl flock: the kernel releases it when its holder exits, even by a crash.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from drivers.chip import ChipError


class PortBusyError(ChipError):
    """Another process (or another open in this one) holds the board."""


def lock_dir() -> Path:
    return Path(os.environ.get("HARNESS_LOCK_DIR") or Path(tempfile.gettempdir()) / "snn-hil-harness-locks")


class PortLock:
    """Held from `acquire` until `release` (or process exit)."""

    def __init__(self, url: str, fd: int, path: Path):
        self.url, self._fd, self.path = url, fd, path

    @classmethod
    def acquire(cls, url: str) -> "PortLock":
        directory = lock_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PortBusyError(f"{url} is in use by another client (pid {holder}; lock file {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(url, fd, path)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)   # closing drops the flock
            self._fd = -1
