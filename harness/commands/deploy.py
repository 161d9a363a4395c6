"""`harness deploy`: load a network onto one chip target and measure it on the test set."""
from __future__ import annotations

from pathlib import Path

import click

from drivers.chip import ChipError
from drivers.instruments.scpi import InstrumentError
from drivers.targets import open_chip
from harness.calibration import CalibrationError
from harness.calibration_file import Calibration
from harness.commands.targeting import load_compiled, target_options
from harness.compiler import CompileError
from harness.deploy import TASK_ERRORS, measure_on_chip, split_data
from harness.energy import energy_line, monitor_line, smu_lines
from sim.chip.mismatch import MismatchError
from sim.chip.spec import SpecError


@click.command()
@click.argument("source", metavar="NET_OR_COMPILED", type=click.Path(dir_okay=False, path_type=Path))
@target_options
@click.option("--calibration", "calibration_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A calibration of this chip (`harness calibrate`): read out with its fitted readout.")
@click.option("--samples", type=click.IntRange(1),
              help="Class-balanced test samples to run (default: the whole test split).")
@click.option("--smu", metavar="ADDRESS",
              help="Also measure energy per inference with a source-measure unit at this VISA address "
                   "(Keithley 2450 SCPI; e.g. ASRL3::INSTR with --instruments sim).")
@click.option("--instruments", "visa_backend", default="sim", show_default=True,
              help="VISA backend of --smu: 'sim' (the simulated lab; needs a virtual board), '@py', '@ivi'.")
@click.option("--energy-repetitions", default=5, show_default=True, type=click.IntRange(2),
              help="Idle and active SMU windows, for the standard error.")
def deploy(source: Path, target: str, chip_seed: int, mismatch: str, spec: str, task_name: str | None,
           link_timeout: float | None, calibration_file: Path | None, samples: int | None, smu: str | None,
           visa_backend: str, energy_repetitions: int) -> None:
    """Run NET_OR_COMPILED (a saved or compiled network) on a chip and print its test accuracy and
    energy per inference (the chip power model; the board's power monitor and an SMU where
    given)."""
    try:
        compiled, task = load_compiled(source, spec, task_name)
        calibration = Calibration.load(calibration_file) if calibration_file else None
        chip = open_chip(target, spec=compiled.config.spec, chip_seed=chip_seed, mismatch=mismatch,
                         link_timeout=link_timeout)
        try:
            identity = chip.identity()
            if calibration is not None:
                try:
                    calibration.check(identity, compiled, task)
                except CalibrationError as exc:
                    raise CalibrationError(f"{calibration_file}: {exc}") from None
            test = split_data(task, "test", samples)
            accuracy, run = measure_on_chip(compiled, chip, task, samples=samples,
                                            decoder=calibration.decoder if calibration else None)
            steps = run.spikes.shape[1]
            monitor = monitor_line(compiled.config, chip, run.activity, steps)
            measured = [monitor] if monitor else []
            if smu:
                first = compiled.encoder.encode(test.inputs[:1])[0]
                measured += smu_lines(compiled.config, chip, first, visa_backend, smu, energy_repetitions,
                                      samples=20)
        finally:
            chip.close()
    except (CompileError, ChipError, SpecError, MismatchError, CalibrationError, InstrumentError,
            *TASK_ERRORS) as exc:
        raise click.ClickException(str(exc)) from None
    readout = (f"readout calibrated on {calibration.trials} {calibration.split} trials" if calibration
               else "compiled readout")
    click.echo(f"{task.name} on {identity.spec_name} chip {identity.chip_id} ({target}, mismatch "
               f"{identity.mismatch}, firmware {identity.firmware}), {readout}: test accuracy {100 * accuracy:.1f}% "
               f"over {len(test)} samples")
    click.echo(energy_line(compiled.config, run.activity, steps))
    for line in measured:
        click.echo(line)
