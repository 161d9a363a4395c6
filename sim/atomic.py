"""Atomic file writes: a temporary file in the target's folder, then `os.replace`.

A reader never sees a half-written file, and an interrupted write leaves no debris.
Written files get the usual mode, 0o666 less the umask. `check_writable` tells a command,
before it does any work, whether its output path can be written; `write_atomic` raises
`OutputError` (one line naming the path and the reason) when it cannot.
`read_npz` is the matching reader, and `read_inputs` reads an input array (.npy, or a .npz's
'inputs'); their errors name the file.
"""
from __future__ import annotations

import functools
import json
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

# What reading a corrupt, truncated or foreign `.npy` / `.npz` can raise.
NPZ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # how a .npz (a zip archive, maybe empty) begins
NPY_MAGIC = b"\x93NUM"                          # how a .npy array begins


class OutputError(OSError):
    """An output file cannot be written; the message names the path and the reason."""


def check_writable(path: str | Path, folder: bool = False) -> Path:
    """Return `path` if `write_atomic` could write it (or, with `folder`, files into it), creating
    nothing; else raise OutputError. Missing parent folders are fine: they would be created.
    A file is only ever written over a regular file: a device, FIFO or socket is refused
    (replacing /dev/null with a regular file, as root, would break the system)."""
    path = Path(path)
    if not folder and os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory")
    if not folder and os.path.exists(path) and not os.path.isfile(path):
        raise OutputError(f"cannot write {path}: it is {_kind(path)}, not a regular file")
    target = path if folder else path.parent
    existing = next(p for p in (target, *target.parents) if os.path.exists(p))
    if not os.path.isdir(existing):
        raise OutputError(f"cannot write {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: directory {existing} is not writable")
    return path


def _kind(path: Path) -> str:
    mode = os.stat(path).st_mode
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(f)` on a temporary binary file, then move it to `path`; OutputError
    (naming `path` and the reason) when that fails."""
    path = check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_and_replace(path, write)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _write_and_replace(path: Path, write: Callable[[BinaryIO], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())  # mkstemp makes it 0o600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def _file_mode() -> int:
    """0o666 less the process umask, read once (from /proc where it can be read without changing it)."""
    try:
        status = Path("/proc/self/status").read_text()
        umask = next(int(line.split()[1], 8) for line in status.splitlines() if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """`np.savez_compressed` to `path`, atomically."""
    return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))


def read_npz(path: Path, error: type[Exception], what: str, unreadable: str) -> dict[str, np.ndarray]:
    """Every array of the `.npz` at `path` (no pickles); `error` naming the file when there is
    none ("no such {what} file") or it cannot be read ("{unreadable} (why)")."""
    _check_is_file(path, error, what)
    try:
        if _magic(path) in ZIP_MAGIC:   # anything else np.load would read as a .npy array or a pickle
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
    except NPZ_ERRORS as exc:
        raise error(f"{path}: {unreadable} ({exc})") from None
    raise error(f"{path}: {unreadable} (not a .npz archive)")


def read_inputs(path: Path, error: type[Exception]) -> np.ndarray:
    """The array of a `.npy` file, or the array named 'inputs' of a `.npz` (no pickles); `error`
    naming the file when there is none or it cannot be read."""
    _check_is_file(path, error, "input")
    try:
        if _magic(path) not in (NPY_MAGIC, *ZIP_MAGIC):   # np.load would try it as a pickle
            raise ValueError("neither a .npy array nor a .npz archive")
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return data
        with data:
            names, inputs = data.files, data["inputs"] if "inputs" in data.files else None
    except NPZ_ERRORS as exc:
        raise error(f"{path}: not a readable .npy/.npz file ({exc})") from None
    if inputs is None:
        raise error(f"{path}: no array named 'inputs' (found: {', '.join(names) or 'none'})")
    return inputs


def _check_is_file(path: Path, error: type[Exception], what: str) -> None:
    """`error` unless `path` is a regular file: 'no such {what} file', or what it is instead."""
    if not path.is_file():
        raise error(f"{path}: {_kind(path)}, not a regular file" if path.exists() else f"{path}: no such {what} file")


def _magic(path: Path) -> bytes:
    """The first four bytes of the file at `path`, by which NumPy tells its formats apart."""
    with open(path, "rb") as f:
        return f.read(4)


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda f: f.write(text.encode()))


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=json_default) + "\n")


def json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
