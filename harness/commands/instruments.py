"""`harness instruments`: read and set the lab supply and multimeter over VISA."""
from __future__ import annotations

from typing import Callable, TypeVar

import click

from drivers.instruments import (SIM, SIM_MULTIMETER, SIM_SUPPLY, InstrumentError, Multimeter, PowerSupply,
                                 ScpiInstrument, resource_manager)

_Instrument = TypeVar("_Instrument", bound=ScpiInstrument)


@click.group()
@click.option("--instruments", "backend", default=SIM, show_default=True,
              help="VISA backend: 'sim' (drivers/instruments/instruments.yaml), '@py', '@ivi', or FILE.yaml@sim.")
@click.option("--supply", default=SIM_SUPPLY, show_default=True, help="VISA address of the supply.")
@click.option("--dmm", default=SIM_MULTIMETER, show_default=True, help="VISA address of the multimeter.")
@click.option("--timeout", default=2.0, show_default=True, type=click.FloatRange(0.01), help="Seconds per answer.")
@click.pass_context
def instruments(ctx: click.Context, backend: str, supply: str, dmm: str, timeout: float) -> None:
    """Lab instruments: a programmable supply and a multimeter."""
    ctx.obj = {"backend": backend, "supply": supply, "dmm": dmm, "timeout": timeout}


def _open(ctx: click.Context, kind: type[_Instrument], key: str) -> _Instrument:
    options = ctx.obj
    return kind.open(resource_manager(options["backend"]), options[key], timeout=options["timeout"])


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except InstrumentError as exc:
        raise click.ClickException(str(exc)) from None


def _output_state(supply: PowerSupply) -> str:
    return f"output {'on' if supply.output() else 'off'}"


def _set_supply(ctx: click.Context, change: Callable[[PowerSupply], None],
                show: Callable[[PowerSupply], object]) -> None:
    """Open the supply, `change` it, and print what `show` reads back."""
    def action() -> None:
        with _open(ctx, PowerSupply, "supply") as supply:
            change(supply)
            click.echo(f"supply {supply.address}: {show(supply)}")
    _run(action)


@instruments.command()
@click.pass_context
def read(ctx: click.Context) -> None:
    """Print the supply's settings and measurements and the multimeter's readings."""
    def action() -> None:
        with _open(ctx, PowerSupply, "supply") as supply:
            click.echo(f"supply {supply.address}: {supply.identify()}")
            for reading in (supply.voltage(), supply.current_limit(), supply.measure_voltage(),
                            supply.measure_current()):
                click.echo(f"  {reading}")
            click.echo(f"  {_output_state(supply)}")
        with _open(ctx, Multimeter, "dmm") as dmm:
            click.echo(f"multimeter {dmm.address}: {dmm.identify()}")
            for reading in (dmm.measure_voltage_dc(), dmm.measure_current_dc()):
                click.echo(f"  {reading}")
    _run(action)


@instruments.command("set-voltage")
@click.argument("volts", type=float)
@click.pass_context
def set_voltage(ctx: click.Context, volts: float) -> None:
    """Set the supply's voltage to VOLTS."""
    _set_supply(ctx, lambda supply: supply.set_voltage(volts), PowerSupply.voltage)


@instruments.command("set-current-limit")
@click.argument("amps", type=float)
@click.pass_context
def set_current_limit(ctx: click.Context, amps: float) -> None:
    """Set the supply's current limit to AMPS."""
    _set_supply(ctx, lambda supply: supply.set_current_limit(amps), PowerSupply.current_limit)


@instruments.command()
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_context
def output(ctx: click.Context, state: str) -> None:
    """Switch the supply's output on or off."""
    _set_supply(ctx, lambda supply: supply.set_output(state == "on"), _output_state)
