"""The harness's pytest plugin (entry point `pytest11: harness`): options, fixtures, markers.

Options (all `--harness-*`; each overrides the run configuration given by `--harness-config`):
target, board (repeatable: the boards under test), spec, chips, mismatch, seed, results,
instruments, network, task, config. Fixtures: `harness`
(the session's HarnessContext), `chip` (a Chip on the target), `virtual_chips`,
`deployed_network` (parametrised over the configured networks), `instruments`, and for
the suites `condition` (parametrised from the suite catalog) and `verdict` (the suite's
measurement at that condition, computed in setup, so a failing chip, target or instrument
is an ERROR and only a missed limit is a FAIL; measured once per condition and shared by
`board_verdict`, one board's entry for the per-board tests, and `model_verdict`, for the
model-consistency test, harness.boards). Markers: `needs_board` (not collected on
the in-process emulator; `physical=True`: not collected on an emulated board either) and
`needs_instrument` (skipped without instruments). Each session has a measurement stream
(harness.stream): the suites publish what they measure, the plugin every test's outcome
(harness.outcomes); the run directory, the JUnit properties and the console subscribe, and
other plugins can with the `pytest_harness_stream` hook. The suites live in `harness.suites`.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

_CONTEXT = pytest.StashKey["Any"]()
_STREAM = pytest.StashKey["Any"]()
_CONSOLE = pytest.StashKey["list[str]"]()
_OPTIONS = {  # option -> (run-config field, help)
    "target": ("target", "chip target of the driver path: 'emulator', emulator://SPEC?seed=S&mismatch=M, "
                         "sim://SPEC, or a serial URL (/dev/ttyACM0, socket://h:p)"),
    "link-timeout": ("link_timeout", "seconds a board may stay silent (default: from the measured line)"),
    "spec": ("specs", "chip spec: a built-in name (dynapse1, dense1k) or a spec file"),
    "chips": ("chips", "number of virtual chips"),
    "mismatch": ("mismatch", "mismatch of the virtual chips: 'spec', 0, or a cv like 0.1"),
    "seed": ("seed", "seed of training and task splits; chips are seed .. seed + chips - 1"),
    "instruments": ("instruments", "lab instruments: none, sim (pyvisa-sim), or VISA SUPPLY[,MULTIMETER]"),
    "network": ("networks", "a network from elsewhere (.nir graph, with dt etc. from the config, or saved .npz)"),
    "task": ("tasks", "task name or .npz data set"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "hardware-in-the-loop harness")
    for name, (_, help_text) in _OPTIONS.items():
        group.addoption(f"--harness-{name}", default=None, help=help_text,
                        type=int if name in ("chips", "seed") else float if name == "link-timeout" else str)
    group.addoption("--harness-board", action="append", default=None, metavar="URL",
                    help="a board under test (repeatable): a serial device, socket://host:port, rfc2217://host:port")
    group.addoption("--harness-config", default=None, help="run configuration TOML (see `harness run --help`)")
    group.addoption("--harness-results", default=None,
                    help="run directory for records and verdicts (default: a temporary directory)")
    group.addoption("--harness-progress", action="store_true", help="progress bars (use with -s)")


def _dest(name: str) -> str:
    """The attribute pytest stores option --harness-NAME under."""
    return f"harness_{name.replace('-', '_')}"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from harness import hooks  # noqa: PLC0415
    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_board(physical=False): needs a chip board (--harness-target a "
                                       "serial URL); physical=True: a real chip, not an emulated board")
    config.addinivalue_line("markers", "needs_instrument(kind): needs lab instruments (--harness-instruments)")
    from harness.console import ConsoleLines  # noqa: PLC0415
    from harness.outcomes import OutcomeLog  # noqa: PLC0415
    from harness.stream import MeasurementStream  # noqa: PLC0415
    stream = config.stash[_STREAM] = MeasurementStream()
    config.stash[_CONSOLE] = []
    stream.subscribe(ConsoleLines(config.stash[_CONSOLE].append))
    config.pluginmanager.register(OutcomeLog(stream), "harness-outcomes")
    config.pluginmanager.register(JUnitProperties(stream), "harness-junit")
    config.hook.pytest_harness_stream.call_historic(kwargs={"stream": stream})
    if any(config.getoption(_dest(name)) is not None for name in (*_OPTIONS, "config", "results", "board")):
        context_of(config)  # bad option values are usage errors before collection


def context_of(config: pytest.Config) -> Any:
    """The session's HarnessContext, created from the options on first use."""
    if _CONTEXT not in config.stash:
        from harness.context import HarnessContext  # noqa: PLC0415 - keep plugin import cheap
        from harness.results import ResultsError  # noqa: PLC0415
        from harness.run_config import RunConfigError, load_config  # noqa: PLC0415
        overrides = {field: config.getoption(_dest(name)) for name, (field, _) in _OPTIONS.items()}
        for listed in ("specs", "networks", "tasks"):
            if overrides[listed] is not None:
                overrides[listed] = [overrides[listed]]
        overrides["boards"] = config.getoption("harness_board")
        results = config.getoption("harness_results") or tempfile.mkdtemp(prefix="harness-results-")
        try:
            run_config = load_config(config.getoption("harness_config")).with_options(**overrides)
            ctx = HarnessContext.open(run_config, results, config.stash[_STREAM],
                                      progress=config.getoption("harness_progress"))
        except (RunConfigError, ResultsError) as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[_CONTEXT] = ctx
    return config.stash[_CONTEXT]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CONTEXT in config.stash:
        config.stash[_CONTEXT].close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _CONTEXT in config.stash:
        ctx = config.stash[_CONTEXT]
        terminalreporter.section("harness")
        for line in config.stash[_CONSOLE]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"harness: target {ctx.config.target}, {ctx.config.chips} virtual chips, "
                                    f"results in {ctx.run.root}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "deployed_network" in metafunc.fixturenames:
        from harness.context import network_plan  # noqa: PLC0415
        keys = [key for key, *_ in network_plan(context_of(metafunc.config).config)]
        metafunc.parametrize("deployed_network", keys, indirect=True, ids=keys, scope="session")
    suite = getattr(metafunc.module, "SUITE", None)
    if suite is not None and "condition" in metafunc.fixturenames:
        from harness.boards.plan import board_cases, model_cases  # noqa: PLC0415
        from harness.suites.engine import conditions  # noqa: PLC0415
        ctx = context_of(metafunc.config)
        sweep = conditions(ctx.config.suite_params(suite), suite)
        if "board_verdict" in metafunc.fixturenames:  # one test per board and asserted condition it realises
            cases = board_cases(ctx, suite, sweep) or [(None, None, "no-boards")]
            metafunc.parametrize("condition,board", [case[:2] for case in cases], ids=[case[2] for case in cases])
        elif "model_verdict" in metafunc.fixturenames:  # one per condition that 3 or more boards realise
            chosen = model_cases(ctx, suite, sweep) or [None]
            metafunc.parametrize("condition", chosen, ids=[c.label if c else "no-boards" for c in chosen])
        else:
            metafunc.parametrize("condition", sweep, ids=[c.label for c in sweep])


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tag each suite test with its suite, network and condition; leave out the tests that
    need a board the target is not (they are not part of this run, so never skipped)."""
    kept, left_out = [], []
    for item in items:
        marker = item.get_closest_marker("needs_board")
        if marker is not None and not _board_available(config, physical=marker.kwargs.get("physical", False)):
            left_out.append(item)
            continue
        suite = getattr(getattr(item, "module", None), "SUITE", None)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if suite is not None:
            condition = params.get("condition")
            if condition is None and "condition" in params:  # no board realises any condition: not part of the run
                left_out.append(item)
                continue
            unit = _unit(config, item)
            item.user_properties += [("suite", suite), ("network", params.get("deployed_network")),
                                     ("condition", getattr(condition, "label", None)),
                                     *([("unit", unit)] if unit is not None else [])]
        kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def _unit(config: pytest.Config, item: pytest.Item) -> str | None:
    """What a suite test judges: a board (its chip id), the model against the boards ("model"),
    or the virtual chips (None)."""
    params = item.callspec.params  # type: ignore[attr-defined]
    if "board" in params:
        return context_of(config).boards().board(params["board"]).chip_id
    return "model" if "model_verdict" in getattr(item, "fixturenames", ()) else None


def _board_available(config: pytest.Config, physical: bool) -> bool:
    """Whether the target is a board (and, if `physical`, a real chip rather than an emulated
    board). A board that cannot be reached counts as present: its tests then report the error."""
    from drivers.chip import ChipError  # noqa: PLC0415 - drivers load on demand
    from drivers.targets import parse_target  # noqa: PLC0415
    ctx = context_of(config)
    if parse_target(ctx.config.target).scheme != "board":
        return False
    try:
        return not physical or not ctx.board(ctx.config.specs[0]).identity().emulated
    except ChipError:
        return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("needs_instrument")
    if marker is not None and context_of(item.config).config.instruments == "none":
        kind = f" ({marker.args[0]})" if marker.args else ""
        pytest.skip(f"needs an instrument{kind}: --harness-instruments is none")


@pytest.fixture(scope="session")
def harness(request: pytest.FixtureRequest) -> Any:
    """The session's HarnessContext: configuration, run directory, targets."""
    return context_of(request.config)


@dataclass(frozen=True)
class VirtualChips:
    spec: str
    seeds: list[int]
    mismatch: Any
    backend: str


@pytest.fixture(scope="session")
def virtual_chips(harness: Any) -> VirtualChips:
    """The set of virtual chips the suites evaluate (chip seeds, spec, mismatch, backend)."""
    config = harness.config
    return VirtualChips(config.specs[0], config.chip_seeds, config.mismatch, config.backend)


@pytest.fixture
def chip(harness: Any) -> Iterator[Any]:
    """A Chip on --harness-target: chip #seed of the spec on the emulator, or the target's fixed chip."""
    config = harness.config
    if harness.fixed_chip:
        yield harness.board(config.specs[0])  # opened once per session, closed with it
        return
    from drivers.targets import open_chip  # noqa: PLC0415
    target = open_chip(config.target, spec=config.specs[0], chip_seed=config.seed, mismatch=config.mismatch)
    yield target
    target.close()


@pytest.fixture(scope="session")
def deployed_network(request: pytest.FixtureRequest, harness: Any) -> Any:
    """A trained (or cached) network compiled for the chip spec: harness.networks.Deployment."""
    return harness.deployment(request.param)


@pytest.fixture(scope="session")
def instruments(harness: Any) -> Any:
    """The lab supply (and multimeter). Skips the test when no instruments are configured;
    configured instruments that cannot be opened are an error, never a skip."""
    if harness.config.instruments == "none":
        pytest.skip("needs an instrument: --harness-instruments is none")
    return harness.instruments()


_VERDICTS = pytest.StashKey["dict"]()


def _condition_verdict(request: pytest.FixtureRequest, harness: Any, deployed_network: Any, condition: Any,
                       setup: Any) -> dict:
    """The condition's verdict, measured once per session (the virtual chips' test, its boards'
    tests and the model-consistency test share it)."""
    from harness.suites.engine import evaluate_condition  # noqa: PLC0415
    memo = request.config.stash.setdefault(_VERDICTS, {})
    key = (request.module.SUITE, deployed_network.key, condition.label)
    if key not in memo:
        memo[key] = evaluate_condition(harness, request.module.SUITE, deployed_network, condition, setup)
    return memo[key]


@pytest.fixture
def verdict(request: pytest.FixtureRequest, harness: Any, deployed_network: Any, condition: Any, setup: Any) -> dict:
    """The suite's measurement of every virtual chip (and board under test) at `condition`
    under the module's `setup`."""
    return _condition_verdict(request, harness, deployed_network, condition, setup)


@pytest.fixture
def board_verdict(request: pytest.FixtureRequest, harness: Any, deployed_network: Any, condition: Any, setup: Any,
                  board: str) -> tuple[dict, dict]:
    """(the condition's verdict, the entry of the board at URL `board`); an error naming the
    board when it could not be measured. Its measurements become the test's JUnit properties."""
    from harness.boards.verdicts import board_entry, board_measurements  # noqa: PLC0415
    verdict = _condition_verdict(request, harness, deployed_network, condition, setup)
    entry = board_entry(verdict, board)
    request.node.user_properties.extend(junit_properties(board_measurements(entry, verdict["accuracy_spec"],
                                                                            condition.asserted)))
    return verdict, entry


@pytest.fixture
def model_verdict(request: pytest.FixtureRequest, harness: Any, deployed_network: Any, condition: Any,
                  setup: Any) -> dict:
    """The condition's verdict, for the model-consistency test (its numbers as JUnit properties)."""
    from harness.boards.verdicts import model_measurements  # noqa: PLC0415
    verdict = _condition_verdict(request, harness, deployed_network, condition, setup)
    if verdict["boards"] and verdict["boards"]["model"]:
        request.node.user_properties.extend(junit_properties(model_measurements(verdict)))
    return verdict


class JUnitProperties:
    """Subscribes the JUnit XML to the stream: the measurements of a test's verdict become
    properties of that test (value, units and limits of each)."""

    def __init__(self, stream: Any):
        self.item: pytest.Item | None = None
        stream.subscribe(self)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.item = item

    @pytest.hookimpl
    def pytest_runtest_logfinish(self) -> None:
        self.item = None

    def __call__(self, event: Any) -> None:
        from harness.stream import ConditionMeasured  # noqa: PLC0415
        if isinstance(event, ConditionMeasured) and self.item is not None:
            self.item.user_properties.extend(junit_properties(event.measurements))


def junit_properties(measurements: Any) -> list[tuple[str, Any]]:
    """Value, units and limits of each measurement as JUnit properties."""
    properties = []
    for m in measurements:
        properties += [(m.name, m.value), (f"{m.name}.units", m.units),
                       *((f"{m.name}.{side}", limit) for side, limit in (("low", m.low), ("high", m.high))
                         if limit is not None)]
    return properties
