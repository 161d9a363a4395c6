"""`harness emulate`: serve an emulated chip as a virtual board on a pty or a TCP port."""
from __future__ import annotations

import signal
import threading

import click

from drivers.board_server import DEFAULT_MAX_STEPS, BoardServer
from drivers.endpoints import Endpoint, PtyEndpoint, TcpEndpoint, parse_host_port
from drivers.serving import DEFAULT_IDLE_TIMEOUT_S, serve
from sim.chip.mismatch import MismatchError
from sim.chip.spec import DEFAULT_SPEC, SpecError


@click.command()
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a new pseudo-terminal; prints its device path.")
@click.option("--listen", metavar="HOST:PORT", help="Serve on a TCP port (port 0 picks one); prints the socket:// URL.")
@click.option("--spec", default=DEFAULT_SPEC, show_default=True, help="Chip spec: a built-in name or a TOML/JSON file.")
@click.option("--chip-seed", default=0, show_default=True, type=click.IntRange(0, 2**64 - 1))
@click.option("--mismatch", default="spec", show_default=True, help="'spec', 0 (nominal), a cv like 0.1 or 10%.")
@click.option("--max-steps", default=DEFAULT_MAX_STEPS, show_default=True, type=click.IntRange(1),
              help="Longest run the board accepts.")
@click.option("--idle-timeout", default=DEFAULT_IDLE_TIMEOUT_S, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds of silence after which a client is dropped (others are told the board is busy).")
@click.option("--power-noise", default=0.0, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Relative measurement noise (sigma) of the board's power monitor.")
def emulate(use_pty: bool, listen: str | None, spec: str, chip_seed: int, mismatch: str, max_steps: int,
            idle_timeout: float, power_noise: float) -> None:
    """Serve an emulated vc1 chip over the wire protocol until Ctrl-C or SIGTERM.

    The first line printed is what to open: the pty's device path or the socket:// URL.
    One client is served at a time; errors in a run or a request are reported to the
    client, and the board goes on serving.
    """
    if use_pty == bool(listen):
        raise click.UsageError("give exactly one of --pty or --listen HOST:PORT")
    try:
        server = BoardServer(spec, chip_seed, mismatch, max_steps=max_steps, power_noise=power_noise)
        endpoint: Endpoint = PtyEndpoint() if use_pty else TcpEndpoint(*parse_host_port(listen))
    except (SpecError, MismatchError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(endpoint.url)
    click.echo(f"virtual board: {server.spec.name}, chip seed {chip_seed}, mismatch {mismatch}; "
               f"Ctrl-C to stop", err=True)
    try:
        serve(server, endpoint, stop, idle_timeout=idle_timeout, log=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.close()
    click.echo("virtual board stopped", err=True)
