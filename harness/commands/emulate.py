"""`harness emulate`: serve emulated chips as virtual boards on a pty or TCP ports (a farm)."""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass

import click

from drivers.board_server import DEFAULT_MAX_STEPS, BoardServer
from drivers.defects import Defect, DefectError, parse_defect
from drivers.endpoints import Endpoint, PtyEndpoint, TcpEndpoint, parse_host_port
from drivers.farm import BoardPlan, start_farm, stop_farm
from drivers.serving import DEFAULT_IDLE_TIMEOUT_S, serve
from sim.chip.mismatch import MismatchError, resolve_cv
from sim.chip.spec import DEFAULT_SPEC, SpecError, load_spec


@dataclass(frozen=True)
class BoardOptions:
    """What every board this command serves is, apart from its chip seed and address."""

    spec: str
    mismatch: str
    anonymous: bool
    defect: Defect | None
    engine: str
    max_steps: int
    idle_timeout: float
    power_noise: float

    def describe(self, chip_seed: int) -> str:
        """How the board with `chip_seed` is announced on stderr."""
        return (f"chip seed {chip_seed}, mismatch {self.mismatch}" + (", anonymous" if self.anonymous else "")
                + (f", defect {self.defect}" if self.defect else ""))


class EmulateError(click.ClickException):
    """Bad options: one line, exit 2 (as a configuration error)."""

    exit_code = 2


@click.command()
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a new pseudo-terminal; prints its device path.")
@click.option("--listen", metavar="HOST:PORT", help="Serve on a TCP port (port 0 picks one); prints the socket:// URL. "
              "With --farm N: N ports (port 0: any free ports; P: P .. P+N-1).")
@click.option("--farm", type=int, default=None, metavar="N",
              help="Serve N boards (chip seeds --first-seed ..), each in its own process; one URL per line.")
@click.option("--spec", default=DEFAULT_SPEC, show_default=True, help="Chip spec: a built-in name or a TOML/JSON file.")
@click.option("--chip-seed", default=None, type=click.IntRange(0, 2**64 - 1), help="Chip seed of a single board [0].")
@click.option("--first-seed", default=None, type=click.IntRange(0, 2**64 - 1),
              help="Chip seed of the farm's first board [0].")
@click.option("--mismatch", default="spec", show_default=True, help="'spec', 0 (nominal), a cv like 0.1 or 10%.")
@click.option("--anonymous", is_flag=True,
              help="Identify as a physical chip: a serial number that does not reveal the chip seed, mismatch "
                   "'physical' (no host can simulate its twin).")
@click.option("--defect", metavar="dead:F|stuck:F", default=None,
              help="Emulated defect: a fraction F of the neurons (chosen from the chip seed) never fire (dead) or "
                   "fire every step (stuck); not shown in the identity.")
@click.option("--engine", type=click.Choice(["emulator", "simulator"]), default="emulator", show_default=True,
              help="What computes the runs: the emulator, or the bit-identical batched simulator (one CPU thread "
                   "per board; much faster, e.g. for a farm on a small machine).")
@click.option("--max-steps", default=DEFAULT_MAX_STEPS, show_default=True, type=click.IntRange(1),
              help="Longest run the board accepts.")
@click.option("--idle-timeout", default=DEFAULT_IDLE_TIMEOUT_S, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds of silence after which a client is dropped (others are told the board is busy).")
@click.option("--power-noise", default=0.0, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Relative measurement noise (sigma) of the board's power monitor.")
def emulate(use_pty: bool, listen: str | None, farm: int | None, spec: str, chip_seed: int | None,
            first_seed: int | None, mismatch: str, anonymous: bool, defect: str | None, engine: str, max_steps: int,
            idle_timeout: float, power_noise: float) -> None:
    """Serve emulated vc1 chips over the wire protocol until Ctrl-C or SIGTERM.

    One board: the first line printed is what to open (the pty's device path or the
    socket:// URL). A farm (--farm N --listen HOST:0): N boards, one URL per line, each
    board in its own process. One client is served at a time per board; errors in a run
    or a request are reported to the client, and the board goes on serving.
    """
    problem = _check(use_pty, listen, farm, chip_seed, first_seed) or \
        ("--defect is emulated by --engine emulator" if defect is not None and engine != "emulator" else None)
    if problem:
        raise EmulateError(problem)
    try:
        parsed = parse_defect(defect) if defect is not None else None
        resolve_cv(mismatch, load_spec(spec))
        host_port = parse_host_port(listen) if listen else None
    except (DefectError, SpecError, MismatchError, ValueError) as exc:
        raise EmulateError(str(exc)) from None
    options = BoardOptions(spec, mismatch, anonymous, parsed, engine, max_steps, idle_timeout, power_noise)
    if farm is not None:
        _serve_farm(options, farm, first_seed or 0, host_port)
    else:
        _serve_one(options, chip_seed or 0, None if use_pty else host_port)


def _check(use_pty: bool, listen: str | None, farm: int | None, chip_seed: int | None,
           first_seed: int | None) -> str | None:
    if farm is not None:
        if farm < 1:
            return f"--farm {farm}: a farm serves at least 1 board"
        if use_pty or not listen:
            return "--farm N serves on TCP ports: give --listen HOST:0 (not --pty)"
        if chip_seed is not None:
            return "--farm numbers its boards from --first-seed; --chip-seed is for a single board"
        return None
    if first_seed is not None:
        return "--first-seed is for a farm (--farm N); a single board takes --chip-seed"
    if use_pty == bool(listen):
        return "give exactly one of --pty or --listen HOST:PORT"
    return None


def _serve_one(options: BoardOptions, chip_seed: int, host_port: tuple[str, int] | None) -> None:
    """Serve one board on `host_port`, or on a new pty when None."""
    try:
        server = BoardServer(options.spec, chip_seed, options.mismatch, max_steps=options.max_steps,
                             power_noise=options.power_noise, anonymous=options.anonymous, defect=options.defect,
                             engine=options.engine)
        endpoint: Endpoint = PtyEndpoint() if host_port is None else TcpEndpoint(*host_port)
    except (SpecError, MismatchError, ValueError, OSError) as exc:
        raise EmulateError(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(endpoint.url)
    click.echo(f"virtual board: {server.spec.name}, {options.describe(chip_seed)}; Ctrl-C to stop", err=True)
    try:
        serve(server, endpoint, stop, idle_timeout=options.idle_timeout, log=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.close()
    click.echo("virtual board stopped", err=True)


def _serve_farm(options: BoardOptions, count: int, first_seed: int, host_port: tuple[str, int]) -> None:
    """Serve `count` boards, chip seeds `first_seed` .., each in its own process."""
    host, port = host_port
    plans = [BoardPlan(options.spec, first_seed + i, options.mismatch, host, port + i if port else 0, options.anonymous,
                       options.defect, options.max_steps, options.idle_timeout, options.engine, options.power_noise)
             for i in range(count)]
    try:
        farm = start_farm(plans)
    except RuntimeError as exc:
        raise EmulateError(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for board in farm:
        click.echo(board.url)
    for board in farm:
        click.echo(f"{board.url}: {options.describe(board.plan.chip_seed)}, pid {board.process.pid}", err=True)
    click.echo(f"board farm: {count} virtual {options.spec} boards; Ctrl-C to stop", err=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop_farm(farm)
    click.echo("board farm stopped", err=True)
