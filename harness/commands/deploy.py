"""`harness deploy`: load a network onto one chip target and measure it on the test set."""
from __future__ import annotations

from pathlib import Path

import click

from drivers.chip import ChipError
from drivers.targets import open_chip
from harness.calibration import Calibration, CalibrationError
from harness.commands.targeting import load_compiled, target_options
from harness.compiler import CompileError
from harness.deploy import TASK_ERRORS, measure_on_chip, split_data
from harness.energy import energy_line
from harness.networks import compiled_fingerprint
from sim.chip.mismatch import MismatchError
from sim.chip.spec import SpecError


@click.command()
@click.argument("source", metavar="NET_OR_COMPILED", type=click.Path(dir_okay=False, path_type=Path))
@target_options
@click.option("--calibration", "calibration_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A calibration of this chip (`harness calibrate`): read out with its fitted readout.")
@click.option("--samples", type=click.IntRange(1),
              help="Class-balanced test samples to run (default: the whole test split).")
def deploy(source: Path, target: str, chip_seed: int, mismatch: str, spec: str, task_name: str | None,
           link_timeout: float | None, calibration_file: Path | None, samples: int | None) -> None:
    """Run NET_OR_COMPILED (a saved or compiled network) on a chip and print its test accuracy."""
    try:
        compiled, task = load_compiled(source, spec, task_name)
        calibration = Calibration.load(calibration_file) if calibration_file else None
        chip = open_chip(target, spec=compiled.config.spec, chip_seed=chip_seed, mismatch=mismatch,
                         link_timeout=link_timeout)
        try:
            identity = chip.identity()
            if calibration is not None:
                calibration.check(identity.chip_id, compiled_fingerprint(compiled))
            accuracy, run = measure_on_chip(compiled, chip, task, samples=samples,
                                            decoder=calibration.decoder if calibration else None)
        finally:
            chip.close()
    except (CompileError, ChipError, SpecError, MismatchError, CalibrationError, *TASK_ERRORS) as exc:
        raise click.ClickException(str(exc)) from None
    n = len(split_data(task, "test", samples))
    readout = (f"readout calibrated on {calibration.trials} {calibration.split} trials" if calibration
               else "compiled readout")
    click.echo(f"{task.name} on {identity.spec_name} chip {identity.chip_id} ({target}, mismatch "
               f"{identity.mismatch}, firmware {identity.firmware}), {readout}: test accuracy {100 * accuracy:.1f}% "
               f"over {n} samples")
    click.echo(energy_line(compiled.config, run.activity, run.spikes.shape[1]))
