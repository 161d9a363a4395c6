"""The run directory: what a run measured, and everything needed to reproduce it.

    config.toml               the run configuration (harness.run_config)
    manifest.json             seeds, chip seeds, spec versions, package versions, timestamps
    networks/, compiled/      trained float networks and compiled chip configurations
    records/<suite>/<network>/chip-<seed>.json   one record per chip and test: per condition,
                              measurements (name, value, units, limits, outcome)
    records/reference/<network>/chip-<seed>.json the suites' reference conditions (unperturbed chips)
    verdicts/<suite>/<network>/<condition>.json  one per test case: yield and its limit
    outcomes.json             each configured test's outcome (pass, fail, error, skip) and message
    summary.json, junit.xml, plots/*.png, report.md

Records, verdicts, outcomes.json and summary.json are written by the measurement stream's
`harness.recorder.RunRecorder`. Every file is written atomically (temporary file + os.replace), so an interrupted run
leaves only complete files; a chip condition already recorded with the same fingerprint
is reused, never recomputed.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sim.atomic import write_json, write_text
from sim.versions import package_versions

RECORD_FORMAT = "snn-hil-chip-record"
FORMAT_VERSION = 1
FRACTION = "fraction"


class ResultsError(ValueError):
    """A run directory cannot be used (it belongs to another configuration, or is unreadable)."""


@dataclass(frozen=True)
class Measurement:
    """A named value with units and optional limits; the outcome follows from them."""

    name: str
    value: float
    units: str
    low: float | None = None
    high: float | None = None

    @property
    def outcome(self) -> str:
        """'pass' / 'fail' against the limits; 'info' when there are none."""
        if self.low is None and self.high is None:
            return "info"
        ok = not math.isnan(self.value) and (self.low is None or self.value >= self.low) and \
            (self.high is None or self.value <= self.high)
        return "pass" if ok else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "units": self.units,
                "limits": {"low": self.low, "high": self.high}, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Measurement":
        limits = data.get("limits") or {}
        return cls(data["name"], float(data["value"]), data["units"], limits.get("low"), limits.get("high"))


def chip_name(chip_seed: int) -> str:
    return f"chip-{chip_seed}"


def record_fingerprint(facts: dict[str, Any]) -> str:
    """A digest of what a record depends on: a record whose fingerprint matches is reused."""
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def accuracy_name(trials: int) -> str:
    """The measurement of a chip's accuracy read out with a readout calibrated on `trials` trials."""
    return "accuracy_uncalibrated" if trials == 0 else f"accuracy_calibrated_{trials}"


class RunDir:
    """Reading and writing one run directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ---- layout ------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def outcomes_path(self) -> Path:
        return self.root / "outcomes.json"

    @property
    def junit_path(self) -> Path:
        return self.root / "junit.xml"

    @property
    def report_path(self) -> Path:
        return self.root / "report.md"

    def subdir(self, name: str) -> Path:
        """networks, compiled, records, verdicts or plots (created on demand)."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def record_path(self, suite: str, network: str, chip_seed: int) -> Path:
        return self.root / "records" / suite / network / f"{chip_name(chip_seed)}.json"

    def verdict_path(self, suite: str, network: str, condition: str) -> Path:
        return self.root / "verdicts" / suite / network / f"{condition}.json"

    # ---- configuration and manifest ----------------------------------------------------
    def start(self, config_toml: str, manifest: dict[str, Any]) -> bool:
        """Claim the directory for a run of `config_toml`; True when resuming an earlier one.

        A directory that holds a different configuration is refused, so results of two
        configurations never mix."""
        resuming = self.config_path.exists()
        if resuming:
            self.check_config(config_toml)
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_debris()
        previous = self.read_json(self.manifest_path) if resuming else None
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        record = {**manifest, "packages": package_versions(), "created": now, "resumed": []}
        if previous:
            record["created"] = previous.get("created", now)
            record["resumed"] = [*previous.get("resumed", []), now]
        write_text(self.config_path, config_toml)
        write_json(self.manifest_path, record)
        return resuming

    def check_config(self, config_toml: str) -> None:
        """ResultsError unless the directory holds a run of exactly this configuration."""
        if self.config_path.read_text() != config_toml:
            raise ResultsError(f"{self.root} holds a run of a different configuration ({self.config_path}); "
                               "choose another --out directory or delete this one")

    def _remove_debris(self) -> None:
        """Temporary files of writes that a hard kill interrupted (never complete files)."""
        for tmp in self.root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def manifest(self) -> dict[str, Any]:
        return self.read_json(self.manifest_path) or {}

    # ---- chip records ------------------------------------------------------------------
    def read_json(self, path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResultsError(f"{path}: unreadable result file ({exc})") from None

    def cached(self, suite: str, network: str, chip_seed: int, condition: str,
               fingerprint: str) -> list[Measurement] | None:
        """Measurements of a chip at a condition recorded with the same fingerprint, else None."""
        record = self.read_json(self.record_path(suite, network, chip_seed)) or {}
        entry = record.get("conditions", {}).get(condition)
        if not entry or entry.get("fingerprint") != fingerprint:
            return None
        return [Measurement.from_dict(m) for m in entry["measurements"]]

    def record(self, suite: str, network: str, chip_seed: int, condition: str, fingerprint: str,
               measurements: list[Measurement], context: dict[str, Any]) -> Path:
        """Add (or replace) one condition's measurements in a chip's record."""
        path = self.record_path(suite, network, chip_seed)
        record = self.read_json(path) or {"format": RECORD_FORMAT, "format_version": FORMAT_VERSION,
                                          "suite": suite, "network": network, "chip_seed": chip_seed,
                                          "chip": chip_name(chip_seed), "conditions": {}}
        record["conditions"][condition] = {"fingerprint": fingerprint, **context,
                                           "measurements": [m.to_dict() for m in measurements],
                                           "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        return write_json(path, record)

    def records(self, suite: str | None = None) -> Iterator[dict[str, Any]]:
        pattern = f"{suite or '*'}/*/chip-*.json"
        for path in sorted((self.root / "records").glob(pattern)):
            yield self.read_json(path) or {}

    # ---- verdicts and summary ----------------------------------------------------------
    def write_verdict(self, verdict: dict[str, Any]) -> Path:
        """A test case's verdict (with its suite, network and condition)."""
        return write_json(self.verdict_path(verdict["suite"], verdict["network"], verdict["condition"]), verdict)

    def verdicts(self) -> list[dict[str, Any]]:
        return [self.read_json(p) or {} for p in sorted((self.root / "verdicts").glob("*/*/*.json"))]

    def write_outcomes(self, outcomes: dict[str, Any]) -> Path:
        return write_json(self.outcomes_path, outcomes)
