"""What a suite run needs, shared by the pytest plugin and `harness run`.

A `HarnessContext` holds the run configuration, the run directory and the session's
measurement stream (with the run directory subscribed to it), deploys networks on first
use, opens the driver-path target and the lab instruments once per session, and closes
them at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.boards.realise import same_level
from harness.networks import Deployment, deploy, network_key
from harness.recorder import RunRecorder
from harness.results import RunDir
from harness.run_config import RunConfig
from harness.stream import MeasurementStream
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import SPEC_VERSION, load_spec



def manifest_for(config: RunConfig) -> dict[str, Any]:
    """The reproducibility facts of a run (package versions are added by RunDir.start)."""
    return {"spec_version": SPEC_VERSION, "seed": config.seed, "chip_seeds": config.chip_seeds,
            "target": config.target, "specs": {s: load_spec(s).to_dict() for s in config.specs},
            "networks": [key for key, *_ in network_plan(config)]}


def network_plan(config: RunConfig) -> list[tuple[str, str, str, str]]:
    """(key, task, method, spec) for every network the run deploys; with `networks`, each
    network file stands in the place of a method."""
    sources = config.networks or config.methods
    return [(network_key(t, m, s), t, m, s) for t in config.tasks for m in sources for s in config.specs]


@dataclass
class Instruments:
    supply: Any              # drivers.instruments.PowerSupply
    multimeter: Any = None   # drivers.instruments.Multimeter, when given

    def close(self) -> None:
        for instrument in (self.supply, self.multimeter):
            if instrument is not None:
                instrument.close()


@dataclass
class HarnessContext:
    config: RunConfig
    run: RunDir
    stream: MeasurementStream
    progress: bool = False
    _deployments: dict[str, Deployment] = field(default_factory=dict)
    _board: Any = None
    _instruments: Instruments | None = None
    _client: Any = None
    _bench: Any = None

    @classmethod
    def open(cls, config: RunConfig, results: str | Path, stream: MeasurementStream,
             progress: bool = False) -> "HarnessContext":
        """Use run directory `results` for `config` (claiming it when new); the directory
        records what `stream` publishes."""
        run = RunDir(results)
        toml = config.to_toml()
        if run.config_path.exists():
            run.check_config(toml)
        else:
            run.start(toml, manifest_for(config))
        stream.subscribe(RunRecorder(run))
        return cls(config, run, stream, progress)

    # ---- networks ----------------------------------------------------------------------
    def deployment(self, key: str) -> Deployment:
        if key not in self._deployments:
            plan = {k: (t, m, s) for k, t, m, s in network_plan(self.config)}
            self._deployments[key], _ = deploy(self.config, self.run, *plan[key])
        return self._deployments[key]

    # ---- driver path -------------------------------------------------------------------
    @property
    def fixed_chip(self) -> bool:
        """Whether the target is one fixed chip (a board, a seeded emulator) rather than any chip."""
        from drivers.targets import parse_target  # noqa: PLC0415 - drivers load on demand
        return parse_target(self.config.target).fixed_chip

    def driver_population(self, spec: str, chip_seed: int,
                          mismatch: MismatchLevel) -> tuple[Any, int, str] | None:
        """(population on the target, the chip seed it realises, that chip's id) for chip
        `chip_seed` at `mismatch`; None when the target cannot realise it (a fixed chip is its
        own seed and mismatch, and a physical chip has no emulated twin)."""
        from drivers.chip import EMULATED_PREFIX  # noqa: PLC0415 - drivers load on demand
        from drivers.population import ChipByChip  # noqa: PLC0415
        from drivers.targets import open_population  # noqa: PLC0415
        if not self.fixed_chip:
            population = open_population(self.config.target, spec=spec, mismatch=mismatch,
                                         backend=self.config.backend)
            return population, chip_seed, f"{EMULATED_PREFIX}{chip_seed}"
        chip = self.board(spec)
        identity = chip.identity()
        if not identity.emulated or not same_level(identity.mismatch, mismatch, spec):
            return None
        return ChipByChip.for_board(chip, identity.chip_seed), identity.chip_seed, identity.chip_id

    def board(self, spec: str) -> Any:
        """The fixed chip of the target (a board, or a seeded emulator), opened once per
        session: a board's port is exclusive."""
        from drivers.chip import ChipError  # noqa: PLC0415
        from drivers.targets import open_chip  # noqa: PLC0415
        from harness.preflight import TargetUnreachable  # noqa: PLC0415
        if self._board is None:
            try:
                self._board = open_chip(self.config.target, spec=spec, link_timeout=self.config.link_timeout or None)
            except ChipError as exc:  # the session stops here (harness.outcomes)
                raise TargetUnreachable(f"target {self.config.target} cannot be used: {exc}") from None
        return self._board

    def boards(self) -> Any:
        """The boards under test (harness.boards.bench.BoardBench), or None when none are configured."""
        if self._bench is None and self.config.boards:
            from harness.boards.bench import BoardBench  # noqa: PLC0415
            self._bench = BoardBench(list(self.config.boards), self.config.specs[0], self.run,
                                     self.config.link_timeout or None, self.progress)
        return self._bench

    # ---- instruments -------------------------------------------------------------------
    def instruments(self) -> Instruments:
        """The supply (and multimeter) of `config.instruments`; InstrumentError if unavailable."""
        if self._instruments is None:
            from drivers.instruments import (SIM, SIM_MULTIMETER, SIM_SUPPLY, Multimeter,  # noqa: PLC0415
                                             PowerSupply, resource_manager)
            setting = self.config.instruments
            backend, addresses = (SIM, [SIM_SUPPLY, SIM_MULTIMETER]) if setting == SIM else ("", setting.split(","))
            manager = resource_manager(backend)
            supply = PowerSupply.open(manager, addresses[0])
            multimeter = Multimeter.open(manager, addresses[1]) if len(addresses) > 1 else None
            self._instruments = Instruments(supply, multimeter)
        return self._instruments

    # ---- cluster -----------------------------------------------------------------------
    def client(self) -> Any:
        """The Dask client of `config.cluster`, opened on first use; None when running in process."""
        if self._client is None and self.config.cluster:
            from harness.cluster import open_client  # noqa: PLC0415 - the cluster extra loads on demand
            self._client = open_client(self.config.cluster)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            from harness.cluster import close_client  # noqa: PLC0415
            close_client(self._client)
            self._client = None
        if self._bench is not None:
            self._bench.close()
            self._bench = None
        if self._board is not None:
            self._board.close()
            self._board = None
        if self._instruments is not None:
            self._instruments.close()
            self._instruments = None
