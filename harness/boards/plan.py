"""Which board tests a suite has: one per board and condition the board realises (judged at
asserted conditions, characterised at the others — where a board that fails is still an
ERROR), and one model-consistency test per condition that at least three boards realise."""
from __future__ import annotations

from typing import Any

from harness.boards.bench import BoardUnderTest
from harness.boards.model import MIN_BOARDS
from harness.boards.realise import unrealisable


def _realises(ctx: Any, suite: str, condition: Any, board: BoardUnderTest) -> bool:
    """A board that could not be identified is planned anyway: its test reports why."""
    if board.identity is None:
        return True
    return unrealisable(suite, condition.value, board.identity.mismatch, population_mismatch=ctx.config.mismatch,
                        instruments=ctx.config.instruments, spec=ctx.config.specs[0]) is None


def board_cases(ctx: Any, suite: str, sweep: list[Any]) -> list[tuple[Any, str, str]]:
    """(condition, board URL, test id) for every condition and board realising it."""
    bench = ctx.boards()
    if bench is None:
        return []
    return [(condition, board.url, f"{condition.label}-{board.chip_id}") for condition in sweep
            for board in bench.boards() if _realises(ctx, suite, condition, board)]


def model_cases(ctx: Any, suite: str, sweep: list[Any]) -> list[Any]:
    """The conditions that at least MIN_BOARDS boards realise."""
    bench = ctx.boards()
    if bench is None:
        return []
    return [condition for condition in sweep
            if sum(_realises(ctx, suite, condition, board) for board in bench.boards()) >= MIN_BOARDS]
