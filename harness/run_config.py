"""The `harness run` configuration: a TOML file, validated with errors that name the field.

Every field is optional; the defaults are the main job (temporal XOR, network ADS, 64
virtual `dynapse1` chips, the in-process emulator, CPU unless a GPU is present):

    tasks = ["xor"]                 # task names or a user's .npz data set
    methods = ["ads"]               # ads, bptt, force, reservoir, or "all"
    networks = []                   # networks from elsewhere (.nir graphs, saved .npz), in place of methods
    dt = 0.0                        # .nir only: seconds per step baked into the graph (docs/nir.md)
    reset = "subtract"              # .nir only: subtract | zero
    convention = "euler"            # .nir only: euler | snntorch
    specs = ["dynapse1"]            # chip specs: built-in names or spec files
    chips = 64                      # virtual chips: chip seeds seed .. seed + chips - 1
    seed = 0                        # training seed, task-split seed and first chip seed
    target = "emulator"             # driver path: "emulator" or a serial URL
    boards = []                     # boards under test: URLs ("socket://host:port", "/dev/ttyACM0", ...)
    link_timeout = 0.0              # seconds a board may stay silent (0: from the measured line)
    instruments = "sim"             # none | sim | VISA address of the supply[,multimeter]
    backend = "auto"                # auto | numpy | cupy
    cluster = ""                    # "" in process | "local" | "local:N" | "tcp://host:port" (Dask)
    mismatch = "spec"               # chip population of the suites other than mismatch_yield
    readout = "auto"                # readout re-fit after compiling: shared (nominal + 16 sampled chips) | nominal
                                    #   | shared-normalised (the shared one on rate-normalised traces); auto: the method's
    replicas = 1                    # copies of each network on the chip, one readout over all (harness.compiler.replicas)
    candidates = "auto"             # networks trained per task and method, the best on sampled chips kept (auto: 1)
    suites = [...]                  # which suites run (default all; supply_sweep only with instruments)
    cache = ""                      # trained-network cache ("" = ~/.cache/snn-hil-harness)
    [sizes]                         # task and training sizes (omitted = the method's default)
    n_train = 256   n_val = 64   n_test = 64   n_steps = ...   n_neurons = ...   epochs = ...
    [suite.common] / [suite.<name>] # override harness/suites/defaults.toml
A field that is wrong is reported with the file, the field and what it may be, before
anything runs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from harness.cluster import check_cluster
from harness.suites.catalog import SUITES as SUITE_CATALOG, check_sweep
from sim.backend import BACKEND_NAMES
from sim.chip.spec import DEFAULT_SPEC

ALL_METHODS = ("ads", "bptt", "force", "reservoir")
NORMALISED_READOUT = "shared-normalised"  # the shared readout on rate-normalised traces (docs/fidelity.md 5.11)
SHARED_READOUTS = ("shared", NORMALISED_READOUT)  # fitted across sampled chips (harness.shared_readout)
READOUTS = ("nominal", *SHARED_READOUTS)  # where (and on what) the readout is re-fitted after compiling
DEFAULT_READOUT = "shared"  # docs/fidelity.md 5.8: methods without a measured better one, imported networks
# method -> its default readout where not DEFAULT_READOUT: ADS reads rate-normalised traces (docs/fidelity.md 5.11: at
# spec, XOR uncalibrated yield 58 -> 89 % and calibrated 99.5 -> 100 % over six seeds; keyword 20 -> 53 %, 58 -> 100 %)
METHOD_READOUTS = {"ads": NORMALISED_READOUT}
SUITES = tuple(SUITE_CATALOG)
SIZE_FIELDS = ("n_train", "n_val", "n_test", "n_steps", "n_neurons", "epochs")
TASK_SIZES = ("n_train", "n_val", "n_test", "n_steps")
DEFAULT_SIZES = {"n_train": 256, "n_val": 64, "n_test": 64}
CHOICES = {"judge": ("calibrated", "uncalibrated"), "calibration_split": ("train", "val"),
           "yield_rule": ("lower_bound", "point")}
SEED_MAX = 2**64 - 1  # chip seeds are unsigned 64-bit (CHIP_SPEC)
QUICK = {"chips": 8, "sizes": {"n_train": 64, "n_val": 32, "n_test": 16}, "samples": 16}


class RunConfigError(ValueError):
    """A run configuration is unreadable or has an invalid field."""


def default_readout(method: str) -> str:
    """The readout `harness compile` and a run's "auto" re-fit for networks `method` trained."""
    return METHOD_READOUTS.get(method, DEFAULT_READOUT)


def suite_defaults() -> dict[str, dict[str, Any]]:
    """harness/suites/defaults.toml as a table per suite plus `common`."""
    text = resources.files("harness.suites").joinpath("defaults.toml").read_text()
    return tomllib.loads(text)


@dataclass(frozen=True)
class RunConfig:
    tasks: tuple[str, ...] = ("xor",)
    methods: tuple[str, ...] = ("ads",)
    networks: tuple[str, ...] = ()
    dt: float = 0.0
    reset: str = "subtract"
    convention: str = "euler"
    specs: tuple[str, ...] = (DEFAULT_SPEC,)
    chips: int = 64
    seed: int = 0
    target: str = "emulator"
    boards: tuple[str, ...] = ()
    link_timeout: float = 0.0
    instruments: str = "sim"
    backend: str = "auto"
    cluster: str = ""
    mismatch: str | float = "spec"
    readout: str = "auto"
    replicas: int = 1
    candidates: int | str = "auto"
    suites: tuple[str, ...] = SUITES
    cache: str = ""
    sizes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SIZES))
    suite_overrides: dict[str, dict[str, Any]] = field(default_factory=lambda: resolve_suites({}))

    @property
    def chip_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.chips)]

    @property
    def cache_dir(self) -> Path:
        base = self.cache or os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "snn-hil-harness"
        return Path(base).expanduser()

    def suite_params(self, suite: str) -> dict[str, Any]:
        """The resolved parameters of `suite` (see `resolve_suites`)."""
        return dict(self.suite_overrides[suite])

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML types, in the layout of the configuration file."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        data["suite"] = data.pop("suite_overrides")
        return data

    def to_toml(self) -> str:
        """The configuration as TOML that `load_config` reads back to an equal config."""
        data = self.to_dict()
        tables = {"sizes": data.pop("sizes")}
        overrides = data.pop("suite")
        lines = [f"{key} = {_toml_value(value)}" for key, value in data.items()]
        for name, table in [*tables.items(), *((f"suite.{s}", t) for s, t in overrides.items())]:
            lines += ["", f"[{name}]", *(f"{k} = {_toml_value(v)}" for k, v in table.items())]
        return "\n".join(lines) + "\n"

    def with_options(self, **options: Any) -> "RunConfig":
        """A validated copy with command-line options applied (None = keep)."""
        data = self.to_dict()
        for key, value in options.items():
            if value is not None:
                data[key] = value
        if options.get("instruments") == "none" and options.get("suites") is None:
            data["suites"] = [s for s in data["suites"] if not SUITE_CATALOG[s].needs_instruments]
        return config_from_dict(data, origin="command line")

    def quick(self) -> "RunConfig":
        """The `--quick` smoke-test variant: few chips, small task, few samples per chip. Its
        conditions are characterised, none asserted: 8 chips cannot show a yield with
        confidence (harness.yields.fewest_chips), so the smoke run claims no yield verdict."""
        overrides = {suite: {**params, "samples": QUICK["samples"], "assert_at": []}
                     for suite, params in self.suite_overrides.items()}
        return replace(self, chips=min(self.chips, QUICK["chips"]), sizes={**self.sizes, **QUICK["sizes"]},
                       suite_overrides=overrides)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def load_config(path: str | Path | None = None) -> RunConfig:
    """The configuration in `path` (None: the defaults)."""
    if path is None:
        return RunConfig()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RunConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RunConfigError(f"{path}: cannot read configuration ({exc})") from None
    return config_from_dict(data, origin=str(path))


def config_from_dict(data: dict[str, Any], origin: str = "configuration") -> RunConfig:
    """Validate a parsed TOML table; RunConfigError names `origin` and the field."""
    def fail(name: str, problem: str) -> RunConfigError:
        return RunConfigError(f"{origin}: field '{name}' {problem}")

    known = ({f.name for f in fields(RunConfig)} - {"suite_overrides"}) | {"suite"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise fail(unknown[0], f"is not a configuration field (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name in ("tasks", "methods", "specs", "suites"):
        if name in data:
            values[name] = _string_list(data[name], name, fail)
    values.update(_networks(data, fail))
    if "methods" in values:
        values["methods"] = _methods(values["methods"], fail)
    bad = [s for s in values.get("suites", ()) if s not in SUITES]
    if bad:
        raise fail("suites", f"has unknown suite {bad[0]!r} (known: {', '.join(SUITES)})")
    if "specs" in values:
        _check_specs(values["specs"], fail)
    for name, low in (("chips", 1), ("seed", 0), ("replicas", 1)):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise fail(name, f"must be an integer >= {low}, got {value!r}")
            values[name] = value
    last_chip = values.get("seed", 0) + values.get("chips", RunConfig.chips) - 1
    if last_chip > SEED_MAX:
        raise fail("seed", f"must leave room for the chip seeds seed .. seed + chips - 1 in 0..2**64-1, got "
                           f"{values.get('seed', 0)} with {values.get('chips', RunConfig.chips)} chips "
                           f"(at most {SEED_MAX - values.get('chips', RunConfig.chips) + 1})")
    if "tasks" in values:
        _check_tasks(values["tasks"], fail)
    if "link_timeout" in data:
        value = data["link_timeout"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
            raise fail("link_timeout", f"must be seconds in [0, 3600] (0: from the measured line), got {value!r}")
        values["link_timeout"] = float(value)
    for name in ("target", "instruments", "backend", "cache"):
        if name in data:
            if not isinstance(data[name], str) or (name != "cache" and not data[name]):
                raise fail(name, f"must be a non-empty string, got {data[name]!r}")
            values[name] = data[name]
    _check_target(values.get("target", RunConfig.target), values.get("specs", RunConfig.specs), fail)
    if "boards" in data:
        values["boards"] = _boards(data["boards"], fail)
    if "cluster" in data:
        if not isinstance(data["cluster"], str):
            raise fail("cluster", f"must be a string, got {data['cluster']!r}")
        try:
            values["cluster"] = check_cluster(data["cluster"])
        except ValueError as exc:
            raise fail("cluster", f"is invalid: {exc}") from None
    if values.get("backend", "auto") not in BACKEND_NAMES:
        raise fail("backend", f"must be one of {', '.join(BACKEND_NAMES)}, got {values['backend']!r}")
    if "mismatch" in data:
        values["mismatch"] = _mismatch(data["mismatch"], fail)
    if "readout" in data:
        if data["readout"] not in ("auto", *READOUTS):
            raise fail("readout", f"must be auto or one of {', '.join(READOUTS)}, got {data['readout']!r}")
        values["readout"] = data["readout"]
    if "candidates" in data:
        value = data["candidates"]
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise fail("candidates", f"must be \"auto\" or an integer >= 1, got {value!r}")
        values["candidates"] = value
    if "sizes" in data:
        values["sizes"] = _sizes(data["sizes"], fail)
    if "suite" in data:
        values["suite_overrides"] = _suite_overrides(data["suite"], fail)
    values["suites"] = _suites_for_instruments(values.get("suites"), values.get("instruments", "sim"), fail)
    return RunConfig(**values)


def _networks(data: dict[str, Any], fail: Any) -> dict[str, Any]:
    """`networks` (existing .nir or .npz files) and the NIR discretisation (`dt` > 0 needed for .nir)."""
    from sim.nir import CONVENTIONS, RESETS  # noqa: PLC0415 - keeps import light
    values: dict[str, Any] = {}
    for name, choices in (("reset", RESETS), ("convention", CONVENTIONS)):
        if name in data:
            if data[name] not in choices:
                raise fail(name, f"must be one of {', '.join(choices)}, got {data[name]!r}")
            values[name] = data[name]
    if "dt" in data:
        value = data["dt"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise fail("dt", f"must be seconds > 0 (0: unset), got {value!r}")
        values["dt"] = float(value)
    if "networks" not in data or data["networks"] == []:
        return values
    networks = values["networks"] = _string_list(data["networks"], "networks", fail)
    for path in networks:
        if not path.endswith((".nir", ".npz")) or not Path(path).is_file():
            raise fail("networks", f"has {path!r}: expected an existing .nir graph or saved .npz network")
        if path.endswith(".nir") and not values.get("dt"):
            raise fail("dt", f"must be set (seconds per step) to import {path!r}; NIR stores no dt")
    return values


def _check_target(target: str, specs: tuple[str, ...], fail: Any) -> None:
    """The target URL and its fields: scheme, spec (the run's), chip seed, mismatch, backend."""
    from drivers.errors import UnknownTargetError  # noqa: PLC0415 - keeps import light
    from drivers.targets import parse_target  # noqa: PLC0415
    from sim.chip.mismatch import MismatchError, check_chip_seed, resolve_cv  # noqa: PLC0415
    from sim.chip.spec import SpecError, load_spec  # noqa: PLC0415
    try:
        parsed = parse_target(target)
        spec = load_spec(parsed.spec or specs[0])
        if parsed.spec is not None:
            other = next((s for s in specs if load_spec(s) != spec), None)
            if other is not None:
                raise fail("target", f"{target!r} is a {parsed.spec} chip, but the run deploys to {other} "
                                     "(name the same spec in 'specs', or leave it out of the URL)")
        if parsed.chip_seed is not None:
            check_chip_seed(parsed.chip_seed)
        if parsed.mismatch is not None:
            resolve_cv(parsed.mismatch, spec)
        if parsed.backend is not None and parsed.backend not in BACKEND_NAMES:
            raise fail("target", f"{target!r} has backend {parsed.backend!r}; choose one of "
                                 f"{', '.join(BACKEND_NAMES)}")
    except (UnknownTargetError, SpecError, MismatchError) as exc:
        raise fail("target", f"is invalid: {exc}") from None


def _check_tasks(tasks: tuple[str, ...], fail: Any) -> None:
    """Each task is a built-in name or names a data set file (which is read before the run)."""
    from sim.tasks.registry import TASKS  # noqa: PLC0415 - keeps import light
    for task in tasks:
        if task not in TASKS and not task.endswith(".npz") and not Path(task).exists():
            raise fail("tasks", f"has unknown task {task!r} (known: {', '.join(TASKS)}, or a path to a .npz "
                                "data set)")


def _boards(value: Any, fail: Any) -> tuple[str, ...]:
    """Board URLs: a list of distinct serial devices or socket:// / rfc2217:// URLs."""
    from drivers.errors import UnknownTargetError  # noqa: PLC0415 - keeps import light
    from drivers.targets import parse_target  # noqa: PLC0415
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise fail("boards", f"must be a list of board URLs like [\"socket://127.0.0.1:7000\", \"/dev/ttyACM0\"], "
                             f"got {value!r}")
    seen: set[str] = set()
    for url in value:
        if url in seen:
            raise fail("boards", f"lists {url!r} twice: each board is one unit under test")
        seen.add(url)
        try:
            is_board = parse_target(url).scheme == "board"
        except UnknownTargetError:
            is_board = False
        if not is_board:
            raise fail("boards", f"has {url!r}, which is not a board URL (a serial device, socket://host:port, "
                                 "rfc2217://host:port)")
    return tuple(value)


def _check_specs(specs: tuple[str, ...], fail: Any) -> None:
    from sim.chip.spec import SpecError, load_spec  # noqa: PLC0415 - keeps import light
    for spec in specs:
        try:
            load_spec(spec)
        except SpecError as exc:
            raise fail("specs", f"is invalid: {exc}") from None


def _suites_for_instruments(suites: tuple[str, ...] | None, instruments: str, fail: Any) -> tuple[str, ...]:
    """The configured suites; by default every suite that the instruments allow. A suite that
    needs instruments, named explicitly while instruments = "none", is a configuration error
    (it could only be skipped, and a skipped test is never a pass)."""
    if instruments != "none":
        return suites or SUITES
    if suites is None:
        return tuple(s for s in SUITES if not SUITE_CATALOG[s].needs_instruments)
    needing = [s for s in suites if SUITE_CATALOG[s].needs_instruments]
    if needing:
        raise fail("suites", f"has {needing[0]!r}, which needs instruments, but instruments = \"none\" "
                             "(set instruments = \"sim\" or a VISA address, or leave the suite out)")
    return suites


def _string_list(value: Any, name: str, fail: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise fail(name, f"must be a non-empty list of strings, got {value!r}")
    return tuple(value)


def _methods(methods: tuple[str, ...], fail: Any) -> tuple[str, ...]:
    if "all" in methods:
        return ALL_METHODS
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise fail("methods", f"has unknown method {bad[0]!r} (known: {', '.join(ALL_METHODS)}, or all)")
    return tuple(dict.fromkeys(methods))


def _mismatch(value: Any, fail: Any) -> str | float:
    from sim.chip.mismatch import MismatchError, resolve_cv  # noqa: PLC0415 - keeps import light
    from sim.chip.spec import load_spec  # noqa: PLC0415
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail("mismatch", f"must be 'spec' or a number, got {value!r}")
    try:
        resolve_cv(value, load_spec(DEFAULT_SPEC))
    except MismatchError as exc:
        raise fail("mismatch", f"is invalid: {exc}") from None
    return float(value) if isinstance(value, int) else value


def _sizes(table: Any, fail: Any) -> dict[str, int]:
    if not isinstance(table, dict):
        raise fail("sizes", f"must be a table, got {table!r}")
    sizes = dict(DEFAULT_SIZES)
    for key, value in table.items():
        if key not in SIZE_FIELDS:
            raise fail(f"sizes.{key}", f"is not a size (known: {', '.join(SIZE_FIELDS)})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(f"sizes.{key}", f"must be a positive integer, got {value!r}")
        sizes[key] = value
    return sizes


def resolve_suites(overrides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every suite's parameters: defaults.toml [common] + [suite], then the configuration's
    [suite.common] + [suite.<suite>]. Stored resolved, so config.toml is self-contained."""
    defaults = suite_defaults()
    return {suite: {**defaults["common"], **defaults[suite], **overrides.get("common", {}), **overrides.get(suite, {})}
            for suite in SUITES}


def _suite_overrides(table: Any, fail: Any) -> dict[str, dict[str, Any]]:
    """[suite.<name>] tables, checked against harness/suites/defaults.toml, then resolved."""
    if not isinstance(table, dict):
        raise fail("suite", f"must be a table of suite tables, got {table!r}")
    defaults = suite_defaults()
    overrides: dict[str, dict[str, Any]] = {}
    for suite, values in table.items():
        if suite not in defaults:
            raise fail(f"suite.{suite}", f"is not a suite (known: common, {', '.join(SUITES)})")
        if not isinstance(values, dict):
            raise fail(f"suite.{suite}", f"must be a table, got {values!r}")
        allowed = {**defaults["common"], **defaults[suite]}
        for key, value in values.items():
            name = f"suite.{suite}.{key}"
            if key not in allowed:
                raise fail(name, f"is not a parameter of this suite (known: {', '.join(sorted(allowed))})")
            _check_like(value, allowed[key], name, fail)
        overrides[suite] = dict(values)
    resolved = resolve_suites(overrides)
    for suite, params in resolved.items():
        problem = check_sweep(SUITE_CATALOG[suite], params)
        if problem:
            raise fail(f"suite.{suite}.{problem[0]}", problem[1])
        for key in ("samples", "chunk", "driver_samples", "calibration_trials"):
            if params[key] < 1:
                raise fail(f"suite.{suite}.{key}", f"must be >= 1, got {params[key]!r}")
        for key, choices in CHOICES.items():
            if params[key] not in choices:
                raise fail(f"suite.{suite}.{key}", f"must be one of {', '.join(choices)}, got {params[key]!r}")
        if not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 1024 for k in params["budget_curve"]):
            raise fail(f"suite.{suite}.budget_curve", f"must list trial counts in [0, 1024], got "
                                                      f"{params['budget_curve']!r}")
    return resolved


def _check_like(value: Any, default: Any, name: str, fail: Any) -> None:
    if isinstance(default, list):
        if not isinstance(value, list):
            raise fail(name, f"must be a list like {default!r}, got {value!r}")
        return
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(name, f"must be a non-negative integer, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(name, f"must be a number, got {value!r}")
        if name.endswith(("accuracy_spec", "yield_threshold")) and not 0 <= value <= 1:
            raise fail(name, f"must be a fraction in [0, 1], got {value!r}")
