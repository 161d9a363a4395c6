"""The `harness` command line. Sub-commands live in `harness.commands` and load lazily."""
from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "chip": "harness.commands.chip:chip",
    "run": "harness.commands.run:run",
    "report": "harness.commands.report:report",
    "compile": "harness.commands.compile:compile_cmd",
    "deploy": "harness.commands.deploy:deploy",
    "calibrate": "harness.commands.calibrate:calibrate",
    "train": "harness.commands.train:train",
    "robustness": "harness.commands.robustness:robustness",
    "emulate": "harness.commands.emulate:emulate",
    "boards": "harness.commands.boards:boards",
    "instruments": "harness.commands.instruments:instruments",
    "import": "harness.commands.nir:import_cmd",
    "export": "harness.commands.nir:export_cmd",
    "simulate": "harness.commands.nir:simulate_cmd",
}


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="snn-hil-harness")
def main() -> None:
    """Train spiking networks, deploy them to vc1 chips, and test their robustness."""
