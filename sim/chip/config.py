"""A vc1 chip configuration: CAM, core bias codes and neuron enable mask.

Saved as one `.npz` that carries the full spec it was made for; `validate` reports every
violation with the neuron, slot or core, the field and the limit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.atomic import read_npz, save_npz
from sim.chip.dac import dac_value
from sim.chip.spec import (DAC_COARSE_MAX, DAC_FINE_MAX, DMEM_RANGE, DSYN_RANGE, IDC_MAGNITUDE_MAX,
                           SPEC_VERSION, T_REF_RANGE, THETA_RANGE, WSYN_RANGE, ChipSpec, SpecError)

FORMAT = "vc1-chip-config"
EMPTY = -1  # CAM source id of an empty slot
ARRAY_FIELDS = ("cam_source", "cam_type", "dmem", "theta", "idc", "t_ref", "dsyn", "wsyn", "enabled")
MAX_REPORTED = 10


class ConfigError(ValueError):
    """A configuration violates its spec; the message lists the violations."""


@dataclass
class ChipConfig:
    """Codes for one chip. Bias codes are per core: [..., 2] = (fine, coarse);
    `idc` is [cores, 3] = (fine, coarse, negative)."""

    spec: ChipSpec
    cam_source: np.ndarray  # [N, fan_in] int32, EMPTY or a source id in [0, M + N)
    cam_type: np.ndarray    # [N, fan_in] int8 synapse type 0..3
    dmem: np.ndarray        # [cores, 2]
    theta: np.ndarray       # [cores, 2]
    idc: np.ndarray         # [cores, 3]
    t_ref: np.ndarray       # [cores] steps, plain integer
    dsyn: np.ndarray        # [cores, 4, 2]
    wsyn: np.ndarray        # [cores, 4, 2]
    enabled: np.ndarray     # [N] bool
    meta: dict[str, Any] | None = None

    @classmethod
    def empty(cls, spec: ChipSpec) -> "ChipConfig":
        """All slots empty, all neurons enabled, mid-range biases (a valid starting point)."""
        n, c = spec.n_neurons, spec.cores
        return cls(
            spec=spec,
            cam_source=np.full((n, spec.fan_in), EMPTY, np.int32),
            cam_type=np.zeros((n, spec.fan_in), np.int8),
            dmem=np.tile([[164, 4]], (c, 1)), theta=np.tile([[128, 8]], (c, 1)),
            idc=np.zeros((c, 3), np.int64), t_ref=np.full(c, 2),
            dsyn=np.tile([[[164, 4]]], (c, 4, 1)), wsyn=np.tile([[[128, 4]]], (c, 4, 1)),
            enabled=np.ones(n, bool),
        )

    # ---- nominal values (per core) -------------------------------------------------
    def nominal(self) -> dict[str, np.ndarray]:
        """Per-core nominal values computed from the codes."""
        return {
            "dmem": dac_value(self.dmem[:, 0], self.dmem[:, 1]),
            "theta": dac_value(self.theta[:, 0], self.theta[:, 1]),
            "idc": dac_value(self.idc[:, 0], self.idc[:, 1], self.idc[:, 2]),
            "t_ref": np.asarray(self.t_ref, np.int64),
            "dsyn": dac_value(self.dsyn[..., 0], self.dsyn[..., 1]),  # [cores, 4]
            "wsyn": dac_value(self.wsyn[..., 0], self.wsyn[..., 1]),
        }

    def synapses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source, target neuron, type) of every filled CAM slot."""
        target, slot = np.nonzero(self.cam_source != EMPTY)
        return self.cam_source[target, slot].astype(np.int64), target, self.cam_type[target, slot].astype(np.int64)

    def weight_counts(self) -> np.ndarray:
        """Integer connection counts [4, M + N, N]: slots holding (source → n, type k)."""
        counts = np.zeros((4, self.spec.n_sources, self.spec.n_neurons), np.int64)
        source, target, kind = self.synapses()
        np.add.at(counts, (kind, source, target), 1)
        return counts

    # ---- validation ----------------------------------------------------------------
    def validate(self) -> "ChipConfig":
        """Raise ConfigError listing every violation (first ten in full); return self."""
        problems = _shape_problems(self)
        if not problems:
            problems = _value_problems(self)
        if problems:
            shown = problems[:MAX_REPORTED]
            more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
            raise ConfigError(f"configuration invalid for spec {self.spec.name} ({self.spec.spec_version}):\n  "
                              + "\n  ".join(shown) + more)
        return self

    # ---- files ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write atomically to `path` (.npz) with the spec and its version."""
        self.validate()
        path = Path(path)
        meta = {"format": FORMAT, "spec_version": self.spec.spec_version, "spec": self.spec.to_dict(),
                "meta": self.meta or {}}
        arrays = {name: np.asarray(getattr(self, name)) for name in ARRAY_FIELDS}
        arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        return save_npz(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ChipConfig":
        """Read and validate a configuration file; errors name the file and the problem."""
        path = Path(path)
        contents = read_npz(path, ConfigError, "configuration", "not a readable chip configuration")
        try:
            meta = json.loads(contents.pop("meta_json").tobytes().decode())
        except KeyError:
            raise ConfigError(f"{path}: not a chip configuration (no metadata record)") from None
        except ValueError as exc:  # not UTF-8, not JSON
            raise ConfigError(f"{path}: not a readable chip configuration ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ConfigError(f"{path}: not a chip configuration (format {meta.get('format') if isinstance(meta, dict) else None!r})")
        if meta.get("spec_version") != SPEC_VERSION:
            raise ConfigError(f"{path}: made for spec version {meta.get('spec_version')!r}; "
                              f"this harness implements {SPEC_VERSION!r}")
        try:
            spec = ChipSpec.from_dict(meta.get("spec"), origin=f"{path} (embedded spec)")
        except SpecError as exc:
            raise ConfigError(str(exc)) from None
        missing = [name for name in ARRAY_FIELDS if name not in contents]
        if missing:
            raise ConfigError(f"{path}: missing arrays {', '.join(missing)}")
        if not isinstance(meta.get("meta") or {}, dict):
            raise ConfigError(f"{path}: corrupted metadata (field 'meta' must be an object, got {meta['meta']!r})")
        config = cls(spec=spec, meta=meta.get("meta") or {}, **{name: contents[name] for name in ARRAY_FIELDS})
        try:
            return config.validate()
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def _shape_problems(config: ChipConfig) -> list[str]:
    spec = config.spec
    n, c = spec.n_neurons, spec.cores
    expected = {"cam_source": (n, spec.fan_in), "cam_type": (n, spec.fan_in), "dmem": (c, 2), "theta": (c, 2),
                "idc": (c, 3), "t_ref": (c,), "dsyn": (c, 4, 2), "wsyn": (c, 4, 2), "enabled": (n,)}
    problems = []
    for name, shape in expected.items():
        value = np.asarray(getattr(config, name))
        if value.shape != shape:
            problems.append(f"{name}: shape {value.shape}, expected {shape}")
        elif name == "enabled":
            if value.dtype != bool:
                problems.append(f"enabled: dtype {value.dtype}, expected bool")
        elif not np.issubdtype(value.dtype, np.integer):
            problems.append(f"{name}: dtype {value.dtype}, expected integers")
    return problems


def _out_of_range(name: str, values: np.ndarray, lo: int, hi: int, where: str) -> list[str]:
    bad = np.argwhere((values < lo) | (values > hi))
    return [f"{name}{list(map(int, idx))} ({where}) = {int(values[tuple(idx)])}, allowed {lo}..{hi}" for idx in bad]


def _value_problems(config: ChipConfig) -> list[str]:
    spec = config.spec
    cam_problems: list[str] = []
    source, kind = np.asarray(config.cam_source), np.asarray(config.cam_type)
    for neuron, slot in np.argwhere((source != EMPTY) & ((source < 0) | (source >= spec.n_sources))):
        cam_problems.append(f"cam_source[neuron {neuron}, slot {slot}] = {source[neuron, slot]}: source id must be "
                        f"{EMPTY} (empty) or in 0..{spec.n_sources - 1}")
    for neuron, slot in np.argwhere((source != EMPTY) & ((kind < 0) | (kind > 3))):
        cam_problems.append(f"cam_type[neuron {neuron}, slot {slot}] = {kind[neuron, slot]}: synapse type must be 0..3")
    problems: list[str] = []
    for name in ("dmem", "theta", "dsyn", "wsyn"):
        codes = np.asarray(getattr(config, name))
        problems += _out_of_range(f"{name}.fine", codes[..., 0], 0, DAC_FINE_MAX, "core[, type]")
        problems += _out_of_range(f"{name}.coarse", codes[..., 1], 0, DAC_COARSE_MAX, "core[, type]")
    idc = np.asarray(config.idc)
    problems += _out_of_range("idc.fine", idc[:, 0], 0, DAC_FINE_MAX, "core")
    problems += _out_of_range("idc.coarse", idc[:, 1], 0, DAC_COARSE_MAX, "core")
    problems += _out_of_range("idc.negative", idc[:, 2], 0, 1, "core")
    problems += _out_of_range("t_ref", np.asarray(config.t_ref), *T_REF_RANGE, "core")
    if problems:
        return cam_problems + problems
    nominal = config.nominal()
    for name, (lo, hi) in (("dmem", DMEM_RANGE), ("theta", THETA_RANGE), ("dsyn", DSYN_RANGE), ("wsyn", WSYN_RANGE)):
        problems += _out_of_range(f"{name} value", nominal[name], lo, hi, "core[, type]")
    problems += _out_of_range("idc value", nominal["idc"], -IDC_MAGNITUDE_MAX, IDC_MAGNITUDE_MAX, "core")
    return cam_problems + problems
