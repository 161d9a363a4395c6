"""Atomic file writes: a temporary file in the target's folder, then `os.replace`.

A reader never sees a half-written file, and an interrupted write leaves no debris.
`read_npz` is the matching reader, whose errors name the file.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(f)` on a temporary binary file, then move it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """`np.savez_compressed` to `path`, atomically."""
    return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))


def read_npz(path: Path, error: type[Exception], what: str, unreadable: str) -> dict[str, np.ndarray]:
    """Every array of the `.npz` at `path` (no pickles); `error` naming the file when there is
    none ("no such {what} file") or it cannot be read ("{unreadable} (why)")."""
    if not path.is_file():
        raise error(f"{path}: no such {what} file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise error(f"{path}: {unreadable} ({exc})") from None


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
