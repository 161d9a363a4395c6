"""The run's boards under test: identified once, measured concurrently, recorded per board.

Each board is reached by its URL through the driver (`drivers.targets.open_chip`) and
known by its chip id (serial number). At a condition every board that can realise it runs
on its own worker thread (one per board, each board exclusive: its port is locked while
it is open), while the virtual chips compute in the meantime. A board's results go to
records/boards/<network>/<chip id>.json as soon as it finishes a condition, keyed by a
fingerprint of what it ran, so a rerun measures only what is missing; a board that cannot
be reached, fails mid-run, or is of another spec yields an error entry naming it and the
other boards go on.
"""
from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from drivers.chip import ChipError, ChipIdentity
from drivers.targets import WrongSpecError, open_chip
from harness.boards.measure import measure_on_board
from harness.compiler import CompiledNetwork
from harness.networks import Deployment, compiled_fingerprint
from harness.results import RunDir, accuracy_name, record_fingerprint
from sim.atomic import write_json

BOARD_FOLDER = "boards"


@dataclass(frozen=True)
class BoardUnderTest:
    """A configured board: its URL, its place in the configuration, and its identity (or
    why it could not be identified)."""

    url: str
    index: int
    identity: ChipIdentity | None
    problem: str | None = None
    wrong_spec: bool = False

    @property
    def chip_id(self) -> str:
        return self.identity.chip_id if self.identity is not None else self.url

    @property
    def name(self) -> str:
        """How messages name the board."""
        return f"board {self.chip_id} at {self.url}" if self.identity is not None else f"board at {self.url}"


@dataclass(frozen=True)
class BoardJob:
    """What one board runs at one condition."""

    compiled: CompiledNetwork
    noise_amplitude: int
    samples: int
    trials: int
    calibration_split: str
    context: dict[str, Any]


def probe(url: str, index: int, spec: str, link_timeout: float | None) -> BoardUnderTest:
    """Open the board at `url`, read its identity and close it; a problem instead when it
    cannot be reached or is of another spec."""
    try:
        chip = open_chip(url, spec=spec, link_timeout=link_timeout)
    except WrongSpecError as exc:
        return BoardUnderTest(url, index, None, f"{exc}", wrong_spec=True)
    except (ChipError, OSError) as exc:
        return BoardUnderTest(url, index, None, f"board at {url}: {exc}")
    try:
        return BoardUnderTest(url, index, chip.identity())
    finally:
        chip.close()


def wrong_spec(urls: tuple[str, ...], spec: str, link_timeout: float | None) -> str | None:
    """A configuration error when a board is a chip of another spec than the run's (checked
    before anything runs; a board that does not answer now is left to its tests, which
    report it)."""
    if not urls:
        return None
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        boards = list(pool.map(lambda item: probe(item[1], item[0], spec, link_timeout), enumerate(urls)))
    wrong = [b.problem for b in boards if b.wrong_spec]
    return f"boards: {wrong[0]}" if wrong else None


class BoardBench:
    """The boards of a run (`urls`, of chip spec `spec`) and their records in `run`."""

    def __init__(self, urls: list[str], spec: str, run: RunDir, link_timeout: float | None = None,
                 progress: bool = False):
        self.urls, self.spec, self.run, self.link_timeout = list(urls), spec, run, link_timeout
        self.progress = progress
        self._boards: list[BoardUnderTest] | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.urls)), thread_name_prefix="board")

    def boards(self) -> list[BoardUnderTest]:
        """Every configured board, identified (concurrently) on first use."""
        if self._boards is None:
            futures = [self._pool.submit(probe, url, i, self.spec, self.link_timeout)
                       for i, url in enumerate(self.urls)]
            self._boards = [f.result() for f in futures]
        return self._boards

    def board(self, url: str) -> BoardUnderTest:
        return next(b for b in self.boards() if b.url == url)

    def start(self, folder: str, network: Deployment, condition: str, job_for: Callable[[BoardUnderTest], BoardJob],
              reason_for: Callable[[BoardUnderTest], str | None]) -> list[Callable[[], dict[str, Any]]]:
        """Start measuring every board at `condition` of suite `folder`; returns, per board, a
        call that waits for its entry: its measurements (recorded, or reused from its record),
        or why it was not measured ("virtual_only") or failed ("error")."""
        waits = []
        for board in self.boards():
            base = {"chip_id": board.chip_id, "url": board.url, "index": board.index}
            reason = reason_for(board) if board.identity is not None else None
            if board.problem is not None or reason is not None:
                entry = {**base, "error": board.problem} if board.problem else {**base, "virtual_only": reason}
                waits.append(lambda entry=entry: entry)
                continue
            job = job_for(board)
            key, fingerprint = f"{folder}/{condition}", _fingerprint(network, job)
            cached = self._cached(network.key, board.chip_id, key, fingerprint)
            if cached is not None:
                waits.append(lambda entry={**base, **cached, "reused": True}: entry)
                continue
            future = self._pool.submit(self._measure, board, network, job, key, fingerprint)
            waits.append(lambda future=future, base=base: {**base, **_result(future, base)})
        return waits

    def _measure(self, board: BoardUnderTest, network: Deployment, job: BoardJob, key: str,
                 fingerprint: str) -> dict[str, Any]:
        chip = open_chip(board.url, spec=self.spec, link_timeout=self.link_timeout)
        try:
            if chip.identity().chip_id != board.chip_id:
                raise ChipError(f"{board.url} now answers as {chip.identity().chip_id}, not {board.chip_id}")
            with tqdm(total=job.trials + job.samples, desc=f"board {board.chip_id} {key}", unit="trial",
                      disable=not self.progress, leave=False, position=board.index + 1) as bar:
                measured = measure_on_board(job.compiled, chip, network.task, samples=job.samples,
                                            trials=job.trials, calibration_split=job.calibration_split,
                                            noise_amplitude=job.noise_amplitude, on_run=lambda: bar.update(1))
        finally:
            chip.close()
        entry = {"fingerprint": fingerprint, **job.context,
                 **{accuracy_name(k): measured.accuracy(k) for k in measured.correct},
                 "correct": {accuracy_name(k): measured.correct[k].astype(int).tolist() for k in measured.correct}}
        self._record(network.key, board, key, entry)
        return entry

    # ---- records -----------------------------------------------------------------------
    def record_path(self, network: str, chip_id: str) -> Path:
        return self.run.root / "records" / BOARD_FOLDER / network / f"{_safe(chip_id)}.json"

    def _cached(self, network: str, chip_id: str, key: str, fingerprint: str) -> dict[str, Any] | None:
        entry = (self.run.read_json(self.record_path(network, chip_id)) or {}).get("conditions", {}).get(key)
        return entry if entry and entry.get("fingerprint") == fingerprint else None

    def _record(self, network: str, board: BoardUnderTest, key: str, entry: dict[str, Any]) -> None:
        """Add one condition to the board's record (only this board's worker writes it)."""
        path = self.record_path(network, board.chip_id)
        record = self.run.read_json(path) or {"chip_id": board.chip_id, "network": network, "conditions": {}}
        record["url"] = board.url
        record["conditions"][key] = entry
        write_json(path, record)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _result(future: Future, base: dict[str, Any]) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a board's failure is that board's ERROR; the others go on
        return {"error": f"board {base['chip_id']} at {base['url']}: {type(exc).__name__}: {exc}"}


def _safe(chip_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", chip_id)


def _fingerprint(network: Deployment, job: BoardJob) -> str:
    facts = {"network": network.fingerprint, "variant": compiled_fingerprint(job.compiled),
             "noise": job.noise_amplitude, "samples": job.samples, "trials": job.trials,
             "calibration_split": job.calibration_split, "task": [network.task.name, network.task.meta],
             "context": job.context}
    return record_fingerprint(facts)
