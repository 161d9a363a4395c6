"""`harness deploy`: load a network onto one chip target and measure it on the test set."""
from __future__ import annotations

from pathlib import Path

import click

from drivers.chip import ChipError
from drivers.targets import open_chip
from harness.compiler import CompiledNetwork, CompileError, compile_network
from harness.deploy import TASK_ERRORS, check_task, evaluate_on_chip, split_data, task_for
from sim.chip.mismatch import MismatchError
from sim.chip.spec import SpecError
from sim.netfile import NetworkFileError, load_network
from sim.network import SpikingNetwork


@click.command()
@click.argument("source", metavar="NET_OR_COMPILED", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", default="emulator", show_default=True,
              help="'emulator' or a serial URL (/dev/ttyACM0, socket://host:port, rfc2217://host:port).")
@click.option("--chip-seed", default=0, show_default=True, type=click.IntRange(0, 2**64 - 1),
              help="Which emulated chip (ignored by boards).")
@click.option("--mismatch", default="spec", show_default=True, help="Emulated mismatch: spec, 0, 0.1, 10%.")
@click.option("--spec", default="dynapse1", show_default=True,
              help="Spec to compile a plain network for, without a readout re-fit (a compiled file carries its own).")
@click.option("--task", "task_name", help="Task name or .npz data set (default: the network's own).")
@click.option("--samples", type=click.IntRange(1), help="Test samples to run (default: the whole test split).")
def deploy(source: Path, target: str, chip_seed: int, mismatch: str, spec: str, task_name: str | None,
           samples: int | None) -> None:
    """Run NET_OR_COMPILED (a saved or compiled network) on a chip and print its test accuracy."""
    try:
        loaded = _load(source)
        task = task_for(loaded.meta, task_name)
        check_task(loaded, task)
        compiled = loaded if isinstance(loaded, CompiledNetwork) else compile_network(loaded, spec, task.train.inputs)
        chip = open_chip(target, spec=compiled.config.spec, chip_seed=chip_seed, mismatch=mismatch)
        try:
            identity = chip.identity()
            accuracy = evaluate_on_chip(compiled, chip, task, samples=samples)
        finally:
            chip.close()
    except (CompileError, ChipError, SpecError, MismatchError, *TASK_ERRORS) as exc:
        raise click.ClickException(str(exc)) from None
    n = len(split_data(task, "test", samples))
    click.echo(f"{task.name} on {identity.spec_name} chip {identity.chip_id} ({target}, mismatch "
               f"{identity.mismatch}, firmware {identity.firmware}): test accuracy {100 * accuracy:.1f}% "
               f"over {n} samples")


def _load(source: Path) -> SpikingNetwork | CompiledNetwork:
    """A saved network or a compiled one, whichever `source` is."""
    try:
        return load_network(source)
    except NetworkFileError as not_network:
        try:
            return CompiledNetwork.load(source)
        except CompileError as not_compiled:
            raise CompileError(f"{source} is neither a saved network ({not_network}) nor a compiled "
                               f"network ({not_compiled})") from None
