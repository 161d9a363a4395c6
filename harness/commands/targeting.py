"""What `harness deploy` and `harness calibrate` share: the chip-target options, and loading
a saved or compiled network with its task."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from harness.compiler import CompiledNetwork, CompileError, compile_network
from harness.deploy import check_task, task_for
from sim.chip.spec import DEFAULT_SPEC
from sim.netfile import NetworkFileError, load_network
from sim.tasks.base import Task

TARGET_OPTIONS = [
    click.option("--target", default="emulator", show_default=True,
                 help="'emulator' or a serial URL (/dev/ttyACM0, socket://host:port, rfc2217://host:port)."),
    click.option("--chip-seed", default=0, show_default=True, type=click.IntRange(0, 2**64 - 1),
                 help="Which emulated chip (ignored by boards)."),
    click.option("--mismatch", default="spec", show_default=True, help="Emulated mismatch: spec, 0, 0.1, 10%."),
    click.option("--spec", default=DEFAULT_SPEC, show_default=True,
                 help="Spec to compile a plain network for, without a readout re-fit (a compiled file carries "
                      "its own)."),
    click.option("--task", "task_name", help="Task name or .npz data set (default: the network's own)."),
    click.option("--link-timeout", type=click.FloatRange(min=0, min_open=True),
                 help="Seconds a board may stay silent (default: from the measured line, at least 2 s)."),
]


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(TARGET_OPTIONS):
        command = option(command)
    return command


def load_compiled(source: Path, spec: str, task_name: str | None) -> tuple[CompiledNetwork, Task]:
    """(compiled network, its task) from a compiled file, or a saved network compiled for `spec`."""
    try:
        loaded: Any = load_network(source)
    except NetworkFileError as not_network:
        try:
            loaded = CompiledNetwork.load(source)
        except CompileError as not_compiled:
            raise CompileError(f"{source} is neither a saved network ({not_network}) nor a compiled "
                               f"network ({not_compiled})") from None
    task = task_for(loaded.meta, task_name)
    check_task(loaded, task)
    compiled = loaded if isinstance(loaded, CompiledNetwork) else compile_network(loaded, spec, task.train.inputs)
    return compiled, task
