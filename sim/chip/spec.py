"""Chip specs as data: the shipped `dynapse1` and `dense1k`, or a user's TOML/JSON file.

Geometry, default mismatch and the power model (`[power]`, optional: a spec without it
has no energy model) are fields of the spec file; the value ranges below are fixed by spec
version vc1 (CHIP_SPEC.md §2) and are the same for every vc1 spec.
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sim.chip.power import PowerModel, parse_power

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SPEC_VERSION = "vc1"
BUILTIN_SPECS = ("dynapse1", "dense1k")
DEFAULT_SPEC = BUILTIN_SPECS[0]  # the chip a command targets unless told otherwise
SYNAPSE_TYPES = ("AMPA", "NMDA", "GABA_A", "GABA_B")
SYNAPSE_SIGNS = (1, 1, -1, -1)
MISMATCH_CLASSES = ("dmem", "theta", "idc", "dsyn", "wsyn_fast", "wsyn_slow")

# Inclusive ranges of effective parameter values in vc1.
DMEM_RANGE = (1, 65535)
DSYN_RANGE = (1, 65535)
THETA_RANGE = (1, 2**23 - 1)
WSYN_RANGE = (0, 2**15 - 1)
IDC_MAGNITUDE_MAX = 2**15 - 1
T_REF_RANGE = (0, 255)
ISYN_MAX = 2**24 - 1
V_RANGE = (-(2**23), 2**23 - 1)
INPUT_COUNT_MAX = 15
DAC_FINE_MAX = 255
DAC_COARSE_MAX = 15

# Largest geometry a spec file may ask for, checked before anything is allocated. The
# batched simulator's memory grows with N × fan_in; the emulator's dense [4, inputs + N, N]
# weight array makes it practical only up to a few thousand neurons.
SIZE_LIMITS = {"cores": 64, "neurons_per_core": 16384, "inputs": 4096}
MAX_NEURONS = 16384  # cores × neurons_per_core


class SpecError(ValueError):
    """A chip spec is unknown, unreadable or invalid."""


@dataclass(frozen=True)
class ChipSpec:
    """Geometry and default mismatch of one vc1 chip model."""

    name: str
    spec_version: str
    cores: int
    neurons_per_core: int
    inputs: int
    fan_in: int
    dt_ms: float
    mismatch_cv: dict[str, float]
    power: PowerModel | None = None  # docs/chip-spec.md, "Power model"

    @property
    def n_neurons(self) -> int:
        return self.cores * self.neurons_per_core

    @property
    def n_sources(self) -> int:
        """Inputs plus neurons: the range of CAM source ids."""
        return self.inputs + self.n_neurons

    def core_of(self, neuron: Any) -> Any:
        return neuron // self.neurons_per_core

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "spec") -> "ChipSpec":
        """Build and validate a spec; errors name `origin` and the field."""
        if not isinstance(data, dict):
            raise SpecError(f"{origin}: a spec must be a table of fields")
        version = data.get("spec_version")
        if version != SPEC_VERSION:
            raise SpecError(f"{origin}: unknown spec version {version!r} (this harness implements {SPEC_VERSION!r})")
        values: dict[str, Any] = {"name": _field(data, "name", str, origin), "spec_version": version}
        for key in ("cores", "neurons_per_core", "inputs", "fan_in"):
            values[key] = _positive_int(data, key, origin, SIZE_LIMITS.get(key))
        if values["cores"] * values["neurons_per_core"] > MAX_NEURONS:
            raise SpecError(f"{origin}: cores × neurons_per_core = {values['cores'] * values['neurons_per_core']} "
                            f"neurons; at most {MAX_NEURONS} are supported")
        dt = data.get("dt_ms")
        if dt != 1.0:
            raise SpecError(f"{origin}: field 'dt_ms' must be 1.0 in {SPEC_VERSION}, got {dt!r}")
        values["dt_ms"] = 1.0
        values["mismatch_cv"] = _mismatch_cv(data.get("mismatch_cv"), origin)
        if data.get("power") is not None:
            try:
                values["power"] = parse_power(data["power"], origin)
            except ValueError as exc:
                raise SpecError(str(exc)) from None
        spec = cls(**values)
        if spec.fan_in > spec.n_sources:
            raise SpecError(f"{origin}: field 'fan_in' = {spec.fan_in} exceeds inputs + neurons = {spec.n_sources}")
        return spec


def _field(data: dict[str, Any], key: str, kind: type, origin: str) -> Any:
    if key not in data:
        raise SpecError(f"{origin}: missing field {key!r}")
    if not isinstance(data[key], kind):
        raise SpecError(f"{origin}: field {key!r} must be {kind.__name__}, got {data[key]!r}")
    return data[key]


def _positive_int(data: dict[str, Any], key: str, origin: str, limit: int | None) -> int:
    """Field `key`: an integer in 1..`limit` (no upper limit when None)."""
    value = _field(data, key, int, origin)
    if isinstance(value, bool) or value < 1:
        raise SpecError(f"{origin}: field {key!r} must be a positive integer, got {value!r}")
    if limit is not None and value > limit:
        raise SpecError(f"{origin}: field {key!r} = {value} is too large (at most {limit})")
    return value


def _mismatch_cv(table: Any, origin: str) -> dict[str, float]:
    if not isinstance(table, dict):
        raise SpecError(f"{origin}: missing table 'mismatch_cv' with {', '.join(MISMATCH_CLASSES)}")
    unknown = set(table) - set(MISMATCH_CLASSES)
    if unknown:
        raise SpecError(f"{origin}: unknown mismatch class(es) {sorted(unknown)}; known: {', '.join(MISMATCH_CLASSES)}")
    cv = {}
    for key in MISMATCH_CLASSES:
        value = table.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 10:
            raise SpecError(f"{origin}: mismatch_cv.{key} must be a number in [0, 10], got {value!r}")
        cv[key] = float(value)
    return cv


@functools.lru_cache(maxsize=None)
def _builtin_spec(name: str) -> ChipSpec:
    """A shipped spec, read once per process."""
    source = resources.files("sim.chip").joinpath("specs", f"{name}.toml").read_text()
    return ChipSpec.from_dict(tomllib.loads(source), origin=f"built-in spec {name}")


def load_spec(name_or_path: str | Path | ChipSpec) -> ChipSpec:
    """A shipped spec by name, or a user's `.toml` / `.json` spec file."""
    if isinstance(name_or_path, ChipSpec):
        return name_or_path
    text_name = str(name_or_path)
    if text_name in BUILTIN_SPECS:
        return _builtin_spec(text_name)
    path = Path(text_name)
    if not path.is_file():
        raise SpecError(f"unknown chip spec {text_name!r}: not a built-in spec ({', '.join(BUILTIN_SPECS)}) "
                        f"and no such file")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read chip spec ({exc})") from None
    return ChipSpec.from_dict(data, origin=str(path))
