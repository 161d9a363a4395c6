"""`harness boards`: what is attached — serial ports (with the identity of each board
that answers the handshake) and VISA instruments."""
from __future__ import annotations

import click
from serial.tools import list_ports

from drivers.chip import ChipError
from drivers.instruments import InstrumentError, ScpiInstrument, resource_manager
from drivers.serial_board import SerialBoard


@click.command()
@click.option("--probe", "extra", multiple=True, metavar="URL",
              help="Also probe this port or URL (a pty path, socket://host:port); repeatable.")
@click.option("--instruments", "backend", default=None,
              help="Also list VISA resources: 'sim' (drivers/instruments/instruments.yaml), '@py', '@ivi', FILE.yaml@sim.")
@click.option("--timeout", default=0.5, show_default=True, type=click.FloatRange(0.01),
              help="Seconds to wait for each port or instrument to answer.")
def boards(extra: tuple[str, ...], backend: str | None, timeout: float) -> None:
    """List serial ports and VISA instruments; identify the boards that answer."""
    ports = [(p.device, p.description) for p in sorted(list_ports.comports(), key=lambda p: p.device)]
    ports += [(url, "probed") for url in extra]
    click.echo(f"serial ports ({len(ports)}):")
    for device, description in ports:
        click.echo(f"  {device}  [{description}]  {_identify_board(device, timeout)}")
    if backend is None:
        return
    try:
        manager = resource_manager(backend)
        addresses = manager.list_resources()
    except (InstrumentError, ValueError, OSError) as exc:
        raise click.ClickException(f"VISA: {exc}") from None
    click.echo(f"VISA resources ({len(addresses)}):")
    for address in addresses:
        try:
            with ScpiInstrument.open(manager, address, timeout=timeout) as instrument:
                answer = instrument.identify()
        except InstrumentError as exc:
            answer = f"no answer ({exc})"
        click.echo(f"  {address}  {answer}")


def _identify_board(url: str, timeout: float) -> str:
    try:
        with SerialBoard.open(url, link_timeout=timeout) as board:
            i = board.identity()
    except ChipError as exc:
        return f"no board ({exc})"
    return f"board {i.chip_id}: {i.spec_name} ({i.spec_version}), firmware {i.firmware}, mismatch {i.mismatch}"
