"""`harness calibrate`: fit one chip's readout on a few class-balanced trials run through it."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from drivers.chip import ChipError
from drivers.targets import open_chip
from harness.calibration import SPLITS, CalibrationError
from harness.calibration_file import Calibration
from harness.commands.outputs import outputs_apart, writable
from harness.commands.targeting import load_compiled, target_options
from harness.compiler import CompileError
from harness.deploy import TASK_ERRORS, calibrate_on_chip
from harness.networks import compiled_fingerprint
from sim.atomic import OutputError
from sim.chip.mismatch import MismatchError
from sim.chip.spec import SpecError


@click.command()
@click.argument("source", metavar="COMPILED", type=click.Path(dir_okay=False, path_type=Path))
@target_options
@click.option("--trials", default=8, show_default=True, type=click.IntRange(1),
              help="Class-balanced calibration trials (a multiple of the task's classes).")
@click.option("--split", default="train", show_default=True, type=click.Choice(SPLITS),
              help="Split the trials come from (never the test split).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Calibration file (JSON), keyed by the chip's identity and the compiled network.")
@outputs_apart(inputs=("source",), outputs=("out",))
def calibrate(source: Path, target: str, chip_seed: int, mismatch: str, spec: str, task_name: str | None,
              link_timeout: float | None, trials: int, split: str, out: Path) -> None:
    """Run TRIALS calibration trials of COMPILED through a chip and fit that chip's readout
    (ridge with intercept, strength by cross-validation over the trials); `harness deploy
    --calibration` then uses it on that chip."""
    try:
        compiled, task = load_compiled(source, spec, task_name)
        chip = open_chip(target, spec=compiled.config.spec, chip_seed=chip_seed, mismatch=mismatch,
                         link_timeout=link_timeout)
        try:
            identity = chip.identity()
            decoder, ridge = calibrate_on_chip(compiled, chip, task, trials, split)
        finally:
            chip.close()
        calibration = Calibration(asdict(identity), compiled_fingerprint(compiled), trials, split, ridge, decoder)
        calibration.save(out)
    except (CompileError, ChipError, SpecError, MismatchError, CalibrationError, OutputError, *TASK_ERRORS) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"calibrated {identity.spec_name} chip {identity.chip_id} ({target}) on {trials} class-balanced "
               f"{split} trials ({ridge}) -> {out}")
