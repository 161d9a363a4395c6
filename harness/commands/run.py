"""`harness run`: the whole job — train, compile, deploy, robustness suites, report."""
from __future__ import annotations

import hashlib
from pathlib import Path

import click

from harness.run_config import ALL_METHODS, RunConfigError, load_config
from sim.atomic import OutputError, check_writable


class RunError(click.ClickException):
    """The run could not be made: exit 2, like a run whose tests errored."""

    exit_code = 2


def default_out(config_file: Path | None, config_toml: str) -> Path:
    """runs/<config name>-<digest of the effective configuration>: the same command resumes
    the same directory, a changed configuration gets its own."""
    digest = hashlib.sha256(config_toml.encode()).hexdigest()[:8]
    return Path("runs") / f"{config_file.stem if config_file else 'default'}-{digest}"


@click.command()
@click.argument("config_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--methods", help=f"Training methods: 'all' or a comma-separated list of {', '.join(ALL_METHODS)}.")
@click.option("--chips", type=click.IntRange(1), help="Number of virtual chips.")
@click.option("--target", help="Driver path for the bit-exact cross-check: 'emulator' or a serial URL.")
@click.option("--board", "boards", multiple=True, metavar="URL",
              help="A board under test (repeatable): a serial device, socket://host:port, rfc2217://host:port. "
              "Measured at every condition it can realise and judged as a unit (docs/boards.md).")
@click.option("--link-timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds a board may stay silent (default: from the measured line, at least 2 s).")
@click.option("--cluster", help="Run chunks of chips on Dask: 'local', 'local:N' workers, or a scheduler "
              "address tcp://host:port (docs/cluster.md).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (default: runs/<config name>-<digest>); the same command resumes it.")
@click.option("--quick", is_flag=True, help="Smoke run: 8 chips, small task, 16 class-balanced test samples per chip; "
              "every condition characterised (no yield verdict: 8 chips cannot show one with confidence).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars.")
def run(config_file: Path | None, methods: str | None, chips: int | None, target: str | None,
        boards: tuple[str, ...], link_timeout: float | None, cluster: str | None, out: Path | None, quick: bool,
        progress: bool) -> None:
    """Train (or reuse) networks, compile them for vc1 chips, run the robustness suites on
    many virtual chips and write a report. CONFIG_FILE is a TOML run configuration
    (default: temporal XOR, network ADS, 64 virtual chips, emulator).

    \b
    Exit status:
      0  PASS   every configured test ran and met its limit
      0  CHARACTERISED  every configured test ran, but none checked a limit
                (no assert_at, or --quick: 8 chips show what the chips do, but no
                yield verdict): measured, not judged
      1  FAIL   a test ran and missed its limit (and nothing errored)
      2  ERROR  a test, chip, target or instrument failed, a configured test was
                skipped, or the configuration is invalid (nothing runs then)
      130       interrupted; the same command resumes the run
    """
    from harness.pipeline import run_pipeline  # noqa: PLC0415 - heavy imports
    from harness.preflight import preflight  # noqa: PLC0415
    from harness.compiler import CompileError  # noqa: PLC0415
    from harness.results import ResultsError  # noqa: PLC0415
    from sim.tasks.registry import TaskError  # noqa: PLC0415
    try:
        config = load_config(config_file).with_options(
            methods=methods.split(",") if methods else None, chips=chips, target=target, link_timeout=link_timeout,
            cluster=cluster, boards=list(boards) or None)
    except RunConfigError as exc:
        raise RunError(str(exc)) from None
    if quick:
        config = config.quick()
    out = out or default_out(config_file, config.to_toml())
    try:
        check_writable(out, folder=True)
        preflight(config, origin=str(config_file) if config_file else "configuration")
    except (OutputError, RunConfigError) as exc:
        raise RunError(str(exc)) from None
    try:
        outcome = run_pipeline(config, out, progress=progress, echo=click.echo)
    except KeyboardInterrupt:  # in training, compiling or the suites (pipeline.RunInterrupted)
        click.echo(f"interrupted; rerun the same command to resume {out}", err=True)
        raise SystemExit(130) from None
    except (ResultsError, TaskError, CompileError) as exc:
        raise RunError(str(exc)) from None
    for line in outcome_lines(outcome.summary):
        click.echo(line)
    click.echo(f"report: {outcome.run.report_path}")
    raise SystemExit(outcome.exit_code)


def outcome_lines(summary: dict) -> list[str]:
    """The errors that kept tests from running, then the counts and the verdict (each test's
    line was printed as it finished)."""
    from harness.outcomes import CHARACTERISED  # noqa: PLC0415 - pytest loads only when used
    lines = [f"ERROR {error}" for error in summary["errors"]]
    totals = summary["totals"]
    lines.append(f"{totals['tests']} tests: {totals['pass']} passed ({totals['characterised']} of them characterised "
                 f"without a limit), {totals['fail']} failed, {totals['error']} errors, {totals['skip']} skipped "
                 f"-> {summary['outcome']}")
    if summary["outcome"] == CHARACTERISED:
        lines.append("CHARACTERISED: no test checked a limit (no condition is in an assert_at, as in --quick, whose "
                     "few chips cannot show a yield with 95% confidence); every test ran and nothing failed: the run "
                     "is measured, not judged; the report shows what the chips did")
    return lines
