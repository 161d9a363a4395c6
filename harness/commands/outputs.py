"""Output-path options: checked when the command line is parsed, before any work is done."""
from __future__ import annotations

from pathlib import Path

import click

from sim.atomic import OutputError, check_writable


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
