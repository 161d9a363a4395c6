"""`open_chip`: one entry point for every chip target."""
from __future__ import annotations

from drivers.chip import Chip, ChipError
from drivers.emulator import EmulatorChip
from drivers.errors import UnknownTargetError
from drivers.serial_board import SerialBoard
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import ChipSpec, load_spec

EMULATOR = "emulator"
BOARD_SCHEMES = ("socket", "rfc2217", "spy", "alt", "hwgrep")   # pyserial URL handlers that reach a board


def check_target(target: str) -> None:
    """UnknownTargetError unless `target` is the emulator, a device path or a board URL."""
    scheme, sep, _ = target.partition("://")
    if target == EMULATOR or not sep:
        return
    if scheme not in BOARD_SCHEMES:
        raise UnknownTargetError(f"unknown target {target!r}: no {scheme!r} scheme; use '{EMULATOR}', a device path "
                                 f"(/dev/ttyACM0) or a URL of scheme {', '.join(s + '://' for s in BOARD_SCHEMES)}")


def open_chip(target: str, *, spec: str | ChipSpec = "dynapse1", chip_seed: int = 0,
              mismatch: MismatchLevel = "spec", link_timeout: float | None = None) -> Chip:
    """`target` is "emulator" (chip #`chip_seed` of `spec` at `mismatch`, in process) or a
    serial URL (/dev/ttyACM0, socket://host:port, rfc2217://host:port). A board is the
    chip it is: `chip_seed` and `mismatch` do not apply to it, but its spec must be `spec`.
    `link_timeout`: seconds a board may stay silent before LinkTimeout (None: from the
    measured line, at least 2 s); ignored by the emulator."""
    check_target(target)
    if target == EMULATOR:
        return EmulatorChip(spec, chip_seed, mismatch)
    wanted = load_spec(spec)
    board = SerialBoard.open(target, link_timeout=link_timeout)
    if board.spec != wanted:
        board.close()
        raise ChipError(f"board at {target} is a {board.spec.name} ({board.spec.spec_version}) chip, "
                        f"not {wanted.name} as requested")
    return board
