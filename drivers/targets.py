"""`open_chip`: one entry point for every chip target."""
from __future__ import annotations

from drivers.chip import Chip, ChipError
from drivers.emulator import EmulatorChip
from drivers.serial_board import DEFAULT_TIMEOUT_S, SerialBoard
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import ChipSpec, load_spec

EMULATOR = "emulator"


def open_chip(target: str, *, spec: str | ChipSpec = "dynapse1", chip_seed: int = 0,
              mismatch: MismatchLevel = "spec", timeout: float = DEFAULT_TIMEOUT_S) -> Chip:
    """`target` is "emulator" (chip #`chip_seed` of `spec` at `mismatch`, in process) or a
    serial URL (/dev/ttyACM0, socket://host:port, rfc2217://host:port). A board is the
    chip it is: `chip_seed` and `mismatch` do not apply to it, but its spec must be `spec`."""
    if target == EMULATOR:
        return EmulatorChip(spec, chip_seed, mismatch)
    wanted = load_spec(spec)
    board = SerialBoard.open(target, timeout=timeout)
    if board.spec != wanted:
        board.close()
        raise ChipError(f"board at {target} is a {board.spec.name} ({board.spec.spec_version}) chip, "
                        f"not {wanted.name} as requested")
    return board
