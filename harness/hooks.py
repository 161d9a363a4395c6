"""Hooks the harness plugin adds to pytest (registered by its `pytest_addhooks`)."""
from __future__ import annotations

from typing import Any

from pluggy import HookspecMarker

hookspec = HookspecMarker("pytest")


@hookspec(historic=True)
def pytest_harness_stream(stream: Any) -> None:
    """Called once per session with its `harness.stream.MeasurementStream` (plugins registered
    later are called when they register): subscribe outputs to it, such as a database, a
    dashboard or `harness run`'s live console lines."""
