"""`harness report DIR`: re-render a run directory's report and plots."""
from __future__ import annotations

from pathlib import Path

import click

from sim.atomic import OutputError


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Re-render RUN_DIR/report.md, summary.json and RUN_DIR/plots/*.png from its records.
    Exits with the run's status, as `harness run` does (0 PASS or CHARACTERISED, 1 FAIL, 2
    ERROR, also for a run whose suites never ran)."""
    from harness.outcomes import EXIT_CODES  # noqa: PLC0415
    from harness.recorder import replay  # noqa: PLC0415
    from harness.report import render  # noqa: PLC0415 - matplotlib loads only when used
    from harness.results import ResultsError, RunDir  # noqa: PLC0415
    run = RunDir(run_dir)
    if not run.manifest_path.is_file():
        raise click.ClickException(f"{run_dir} is not a run directory (no manifest.json); make one with `harness run`")
    try:
        summary = replay(run)
        path = render(run, summary)
    except (ResultsError, OutputError) as exc:
        raise click.ClickException(str(exc)) from None
    for error in summary["errors"]:
        click.echo(f"ERROR {error}")
    click.echo(f"{summary['outcome']}; report: {path}")
    raise SystemExit(EXIT_CODES[summary["outcome"]])
