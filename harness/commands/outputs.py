"""Output-path options: checked when the command line is parsed, before any work is done.

An output is written only to a regular file or a new path (sim.atomic.check_writable), and
never to a file the same command reads (`outputs_apart`): `harness calibrate C.npz -o C.npz`
is refused instead of destroying its input.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from sim.atomic import OutputError, check_writable

Command = TypeVar("Command", bound=Callable[..., Any])


def writable(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Click callback: `value` unchanged if it can be written (a folder when the parameter's
    `click.Path` does not accept files), else a one-line error naming the path and the reason."""
    if value is None:
        return None
    folder = isinstance(param.type, click.Path) and not param.type.file_okay
    try:
        return check_writable(value, folder=folder)
    except OutputError as exc:
        raise click.ClickException(str(exc)) from None


def outputs_apart(inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Callable[[Command], Command]:
    """Decorator of a click command's function (put it below the click decorators): before the
    command runs, a one-line error when one of its `outputs` (parameter names) is the same
    file as one of its `inputs` or as another output."""
    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def checked(**params: Any) -> Any:
            check_apart(params, inputs, outputs)
            return command(**params)
        return checked  # type: ignore[return-value]
    return decorate


def check_apart(params: dict[str, Any], inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    """ClickException when an output path resolves to an existing input file (or to an earlier
    output). An input that is no file (a task name) cannot clash."""
    seen = [(name, path) for name in inputs for path in _paths(params.get(name)) if path.exists()]
    for name in outputs:
        for path in _paths(params.get(name)):
            clash = next(((other, earlier) for other, earlier in seen if _same_file(path, earlier)), None)
            if clash is not None:
                role = "input" if clash[0] in inputs else "output"
                raise click.ClickException(f"refusing to write {_label(name)} {path}: it is the {role} "
                                           f"{_label(clash[0])} ({clash[1]}) of this command; choose another "
                                           "output path")
            seen.append((name, path))


def _paths(value: Any) -> list[Path]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (str, Path)):
        return [Path(value)]
    if isinstance(value, Iterable):
        return [Path(v) for v in value if isinstance(v, (str, Path))]
    return []


def _same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file (through links, `..` or hard links)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _label(name: str) -> str:
    """How the command line spells parameter `name` (-o/--out, COMPILED, ...)."""
    ctx = click.get_current_context(silent=True)
    for param in ctx.command.params if ctx is not None else []:
        if param.name == name:
            if isinstance(param, click.Option):
                return max(param.opts, key=len)
            return param.human_readable_name
    return name
