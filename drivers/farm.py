"""A board farm in a box: N virtual boards, each in its own process on its own TCP port.

Board i is chip seed `first_seed + i`; each process serves one `BoardServer` (so boards
compute in parallel, and killing one board's process takes down that board alone). The
farm reports each board's URL once its port listens.
"""
from __future__ import annotations

import multiprocessing
import signal
import threading
from dataclasses import dataclass
from typing import Any

from drivers.board_server import DEFAULT_MAX_STEPS, BoardServer
from drivers.defects import Defect
from drivers.endpoints import TcpEndpoint
from drivers.serving import DEFAULT_IDLE_TIMEOUT_S, serve
from sim.chip.mismatch import MismatchLevel

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BoardPlan:
    """What one board of the farm is."""

    spec: str
    chip_seed: int
    mismatch: MismatchLevel
    host: str
    port: int                 # 0: any free port
    anonymous: bool = False
    defect: Defect | None = None
    max_steps: int = DEFAULT_MAX_STEPS
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S
    engine: str = "emulator"  # or "simulator" (drivers.board_server.ENGINES)
    power_noise: float = 0.0  # relative noise of the board's power monitor


@dataclass
class FarmBoard:
    plan: BoardPlan
    url: str
    process: Any   # multiprocessing.Process


def _serve_board(plan: BoardPlan, report: Any) -> None:
    """A board process: listen, send the URL (or the error) back, serve until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server = BoardServer(plan.spec, plan.chip_seed, plan.mismatch, max_steps=plan.max_steps,
                             power_noise=plan.power_noise, anonymous=plan.anonymous, defect=plan.defect, engine=plan.engine)
        endpoint = TcpEndpoint(plan.host, plan.port)
    except Exception as exc:  # noqa: BLE001 - the parent reports why the board could not start
        report.send(("error", f"board chip seed {plan.chip_seed}: {exc}"))
        return
    report.send(("url", endpoint.url))
    try:
        serve(server, endpoint, stop, idle_timeout=plan.idle_timeout)
    finally:
        endpoint.close()


def start_farm(plans: list[BoardPlan]) -> list[FarmBoard]:
    """Start one process per plan; returns once every board listens. RuntimeError (after
    stopping the others) when a board cannot start."""
    context = multiprocessing.get_context("spawn")
    started: list[tuple[BoardPlan, Any, Any]] = []
    for plan in plans:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_serve_board, args=(plan, send), daemon=True,
                                  name=f"board-{plan.chip_seed}")
        process.start()
        started.append((plan, process, receive))
    farm, problem = [], None
    for plan, process, receive in started:
        if not receive.poll(START_TIMEOUT_S):
            problem = problem or f"board chip seed {plan.chip_seed} did not start within {START_TIMEOUT_S:g} s"
            continue
        kind, value = receive.recv()
        if kind == "error":
            problem = problem or value
        else:
            farm.append(FarmBoard(plan, value, process))
    if problem is not None:
        stop_farm([FarmBoard(plan, "", process) for plan, process, _ in started])
        raise RuntimeError(problem)
    return farm


def stop_farm(farm: list[FarmBoard], timeout: float = 5.0) -> None:
    """Stop every board process (SIGTERM, then SIGKILL after `timeout`)."""
    for board in farm:
        if board.process.is_alive():
            board.process.terminate()
    for board in farm:
        board.process.join(timeout)
        if board.process.is_alive():
            board.process.kill()
            board.process.join()
