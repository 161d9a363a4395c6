"""Array backend selection: NumPy always, CuPy when present and asked for.

`get_backend("auto")` picks CuPy only when it imports and sees a GPU. CuPy is never
imported at module level, so every module works without it.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

BACKEND_NAMES = ("auto", "numpy", "cupy")


class BackendError(RuntimeError):
    """The requested array backend is not available."""


@dataclass(frozen=True)
class Backend:
    """An array module (`xp`) with helpers to move arrays to and from the host."""

    name: str
    xp: ModuleType

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a: Any) -> np.ndarray:
        if self.name == "cupy":
            return self.xp.asnumpy(a)
        return np.asarray(a)

    def synchronize(self) -> None:
        if self.name == "cupy":
            self.xp.cuda.Device().synchronize()


def _cupy_module() -> ModuleType | None:
    try:
        import cupy  # noqa: PLC0415 - optional dependency, imported on demand
    except Exception:  # ImportError, or a CUDA library that fails to load
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:
        return None
    return cupy


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _cupy_module() is not None


def get_backend(name: str | Backend = "auto") -> Backend:
    """Return the backend called `name` (auto, numpy or cupy)."""
    if isinstance(name, Backend):
        return name
    if name not in BACKEND_NAMES:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if name == "numpy":
        return Backend("numpy", np)
    cupy = _cupy_module()
    if cupy is not None:
        return Backend("cupy", cupy)
    if name == "cupy":
        raise BackendError("backend 'cupy' requested but CuPy is not installed or sees no GPU "
                           "(install the extra: pip install -e '.[gpu]')")
    return Backend("numpy", np)
