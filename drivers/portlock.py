"""An exclusive lock per port, so two processes never talk to one board.

The lock is keyed on what the URL reaches, not on its text (`port_key`): a device path
through its symlinks (socat aliases), a socket:// or rfc2217:// address through name
resolution (`localhost` and `127.0.0.1` are one board), and a spy:// or alt:// wrapper
by the port it wraps. It is a lock file under $HARNESS_LOCK_DIR (default:
<tmp>/snn-hil-harness-locks) held with fcntl flock, so the kernel releases it when its
holder exits, even by a crash; device paths are also opened with pyserial's
`exclusive=True` (flock on the device itself).
"""
from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from serial.tools import list_ports

from drivers.errors import PortBusyError

WRAPPERS = ("spy", "alt")           # pyserial URLs wrapping a device: spy://PORT?options
NETWORK = ("socket", "rfc2217")     # pyserial URLs of a TCP address: socket://HOST:PORT


def port_key(url: str) -> str:
    """What `url` reaches: 'device:<real path>' or '<scheme>:<address>:<port>'; else the URL."""
    parts = urlsplit(url)
    if "://" not in url:
        return f"device:{os.path.realpath(url)}"
    if parts.scheme in WRAPPERS:
        return port_key(parts.netloc + parts.path)
    if parts.scheme == "hwgrep":
        match = next(iter(list_ports.grep(parts.netloc + parts.path)), None)
        return port_key(match.device) if match else url
    if parts.scheme in NETWORK and parts.hostname and parts.port is not None:
        return f"{parts.scheme}:{_address(parts.hostname)}:{parts.port}"
    return url


def _address(host: str) -> str:
    """The host's address ('loopback' for any loopback name), or the host when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return host.lower()
    addresses = sorted({ipaddress.ip_address(info[4][0]) for info in infos}, key=lambda a: (a.version, a))
    if any(a.is_loopback for a in addresses):
        return "loopback"
    return str(addresses[0])


def lock_dir() -> Path:
    return Path(os.environ.get("HARNESS_LOCK_DIR") or Path(tempfile.gettempdir()) / "snn-hil-harness-locks")


class PortLock:
    """Held from `acquire` until `release` (or process exit)."""

    def __init__(self, url: str, fd: int, path: Path):
        self.url, self._fd, self.path = url, fd, path

    @classmethod
    def acquire(cls, url: str) -> "PortLock":
        """Hold the port `url` reaches; PortBusyError naming the holder if another does."""
        directory = lock_dir()
        directory.mkdir(parents=True, exist_ok=True)
        key = port_key(url)
        path = directory / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PortBusyError(f"{url} is in use by another client (pid {holder} holds {key}; "
                                f"lock file {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(url, fd, path)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)   # closing drops the flock
            self._fd = -1
