"""Chip targets as URLs: `open_chip` (one chip) and `open_population` (many), one scheme registry.

    emulator                                   the in-process emulator, any chip (the caller names it)
    emulator://dynapse1?seed=7&mismatch=spec   emulated chip #7 of dynapse1 at spec mismatch: one fixed chip
    sim://dynapse1?mismatch=0.1&backend=numpy  the batched simulator (a population only)
    /dev/ttyACM0, socket://host:port, rfc2217://host:port, ...   a board, through pyserial's serial_for_url

Query fields that a URL leaves out come from the caller (spec, chip seed, mismatch).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from drivers.chip import Chip, ChipError
from drivers.emulator import EmulatorChip
from drivers.errors import UnknownTargetError
from drivers.population import ChipByChip, ChipPopulation, SimulatedPopulation
from drivers.serial_board import SerialBoard
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import DEFAULT_SPEC, ChipSpec, load_spec

EMULATOR = "emulator"
SIMULATOR = "sim"
BOARD_SCHEMES = ("socket", "rfc2217", "spy", "alt", "hwgrep")   # pyserial URL handlers that reach a board
QUERY_FIELDS = {EMULATOR: ("seed", "mismatch"), SIMULATOR: ("mismatch", "backend")}


class WrongSpecError(ChipError):
    """A board (or URL) is a chip of another spec than the one asked for."""


@dataclass(frozen=True)
class Target:
    """A parsed target URL."""

    url: str
    scheme: str                  # "emulator", "sim" or "board"
    spec: str | None = None      # from the URL's host part
    chip_seed: int | None = None
    mismatch: str | None = None
    backend: str | None = None

    @property
    def fixed_chip(self) -> bool:
        """Whether the target is one chip whatever the caller asks for (a board, a seeded emulator)."""
        return self.scheme == "board" or self.chip_seed is not None


def parse_target(target: str) -> Target:
    """The target `target` names; UnknownTargetError for a scheme or field no handler takes."""
    scheme, sep, _ = target.partition("://")
    if target == EMULATOR:
        return Target(target, EMULATOR)
    if not sep:
        return Target(target, "board")  # a device path
    if scheme in BOARD_SCHEMES:
        return Target(target, "board")
    if scheme not in QUERY_FIELDS:
        raise UnknownTargetError(
            f"unknown target {target!r}: no {scheme!r} scheme; use '{EMULATOR}', {EMULATOR}://SPEC?seed=S&mismatch=M, "
            f"{SIMULATOR}://SPEC?mismatch=M, a device path (/dev/ttyACM0) or a URL of scheme "
            f"{', '.join(s + '://' for s in BOARD_SCHEMES)}")
    parts = urlsplit(target)
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - set(QUERY_FIELDS[scheme]))
    if unknown:
        raise UnknownTargetError(f"target {target!r}: unknown field {unknown[0]!r} (a {scheme}:// target takes "
                                 f"{', '.join(QUERY_FIELDS[scheme])})")
    seed = query.get("seed")
    if seed is not None and not seed.isdigit():
        raise UnknownTargetError(f"target {target!r}: seed {seed!r} must be an integer >= 0")
    return Target(target, scheme, parts.netloc or None, None if seed is None else int(seed), query.get("mismatch"),
                  query.get("backend"))


def open_chip(target: str, *, spec: str | ChipSpec = DEFAULT_SPEC, chip_seed: int = 0,
              mismatch: MismatchLevel = "spec", link_timeout: float | None = None) -> Chip:
    """One chip: the emulated chip the URL (or else `chip_seed`, `mismatch`) names, or the
    board at the URL. A board is the chip it is, but its spec must be `spec`.
    `link_timeout`: seconds a board may stay silent before LinkTimeout (None: from the
    measured line, at least 2 s); ignored by the emulator."""
    parsed = parse_target(target)
    wanted = _spec(parsed, spec)
    if parsed.scheme == SIMULATOR:
        raise ChipError(f"{target} is the batched simulator, a chip population: give it where many chips run "
                        f"(harness run --target), or use {EMULATOR}://SPEC?seed=S for one chip")
    if parsed.scheme == EMULATOR:
        return EmulatorChip(wanted, _or(parsed.chip_seed, chip_seed), _or(parsed.mismatch, mismatch))
    board = SerialBoard.open(target, link_timeout=link_timeout)
    if board.spec != wanted:
        board.close()
        raise WrongSpecError(f"board at {target} is a {board.spec.name} ({board.spec.spec_version}) chip, "
                        f"not {wanted.name} as requested")
    return board


def open_population(target: str, *, spec: str | ChipSpec = DEFAULT_SPEC, mismatch: MismatchLevel = "spec",
                    backend: str = "auto") -> ChipPopulation:
    """Many chips on `target`: the batched simulator, or emulated chips one by one. A target
    that is one fixed chip (a board, a seeded emulator) is opened with `open_chip`."""
    parsed = parse_target(target)
    wanted = _spec(parsed, spec)
    if parsed.fixed_chip:
        raise ChipError(f"{target} is one fixed chip, not a population: open it with open_chip")
    if parsed.scheme == SIMULATOR:
        return SimulatedPopulation(_or(parsed.mismatch, mismatch), _or(parsed.backend, backend))
    return ChipByChip.for_emulator(wanted.name, _or(parsed.mismatch, mismatch))


def _spec(parsed: Target, spec: str | ChipSpec) -> ChipSpec:
    wanted = load_spec(spec)
    if parsed.spec is not None and load_spec(parsed.spec) != wanted:
        raise ChipError(f"target {parsed.url} is a {parsed.spec} chip, not {wanted.name} as requested")
    return wanted


def _or(value: object, default: object) -> object:
    return default if value is None else value
