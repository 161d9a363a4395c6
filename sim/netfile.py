"""The saved-network format: one `.npz` holding the arrays and a JSON metadata record.

Metadata names the format version, task, method, hyper-parameters, seed, metrics and
package versions. Loading anything else fails with a `NetworkFileError` naming the file.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.atomic import json_default, read_npz, save_npz
from sim.network import ARRAY_FIELDS, NetworkError, SpikingNetwork
from sim.versions import package_versions

FORMAT = "snn-hil-network"
FORMAT_VERSION = 1


class NetworkFileError(ValueError):
    """A file is not a readable saved network."""


def save_network(net: SpikingNetwork, path: str | Path) -> Path:
    """Write `net` atomically to `path` (a `.npz`)."""
    path = Path(path)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **net.scalars(),
            "packages": package_versions(), **net.meta}
    arrays = {name: np.asarray(a) for name, a in net.arrays().items()}
    arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True, default=json_default).encode(), dtype=np.uint8)
    return save_npz(path, arrays)


def load_network(path: str | Path) -> SpikingNetwork:
    """Read a network saved by `save_network`; clear errors for anything else."""
    path = Path(path)
    contents = read_npz(path, NetworkFileError, "network", "not a saved network: unreadable .npz")
    if "meta_json" not in contents:
        raise NetworkFileError(f"{path}: not a saved network (no metadata record)")
    try:
        meta = json.loads(contents.pop("meta_json").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NetworkFileError(f"{path}: corrupted metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise NetworkFileError(f"{path}: corrupted metadata (a JSON {type(meta).__name__}, expected an object)")
    if meta.get("format") != FORMAT:
        raise NetworkFileError(f"{path}: not a saved network (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise NetworkFileError(f"{path}: network format version {meta.get('format_version')} "
                               f"is not supported (this harness reads {FORMAT_VERSION})")
    missing = [name for name in ARRAY_FIELDS if name not in contents]
    if missing:
        raise NetworkFileError(f"{path}: missing arrays {', '.join(missing)}")
    scalars = {"v_reset": _number(path, meta.pop("v_reset", 0.0), "v_reset"),
               "tau_out": _number(path, meta.pop("tau_out", 70.0), "tau_out")}
    for key, kind in (("task", str), ("task_meta", dict)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise NetworkFileError(f"{path}: metadata field {key!r} must be a {kind.__name__}, got {meta[key]!r}")
    for key in ("format", "format_version"):
        meta.pop(key)
    try:
        return SpikingNetwork(**{name: contents[name] for name in ARRAY_FIELDS}, **scalars, meta=meta)
    except NetworkError as exc:
        raise NetworkFileError(f"{path}: {exc}") from None


def _number(path: Path, value: Any, key: str) -> float:
    """`value` of metadata field `key` as a float; NetworkFileError unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NetworkFileError(f"{path}: metadata field {key!r} must be a finite number, got {value!r}")
    return float(value)
