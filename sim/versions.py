"""Versions of the packages a result depends on, recorded for reproducibility."""
from __future__ import annotations

import platform
from importlib import metadata

_PACKAGES = ("snn-hil-harness", "numpy", "scipy", "cupy-cuda12x", "click", "pyserial", "pyvisa")


def package_versions() -> dict[str, str]:
    """Python and the installed versions of the packages that shape results."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
