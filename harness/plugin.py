"""The harness's pytest plugin (entry point `pytest11: harness`): options, fixtures, markers.

Options (all `--harness-*`; each overrides the run configuration given by `--harness-config`):
target, spec, chips, mismatch, seed, results, instruments, config. Fixtures: `harness`
(the session's HarnessContext), `chip` (a Chip on the target), `virtual_chips`,
`deployed_network` (parametrised over the configured networks), `instruments`. Markers:
`needs_board` (skipped on the in-process emulator) and `needs_instrument` (skipped
without instruments). The suites themselves live in `harness.suites`.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

_CONTEXT = pytest.StashKey["Any"]()
_OPTIONS = {  # option -> (run-config field, help)
    "target": ("target", "chip target of the driver path: 'emulator' or a serial URL (/dev/ttyACM0, socket://h:p)"),
    "spec": ("specs", "chip spec: a built-in name (dynapse1, dense1k) or a spec file"),
    "chips": ("chips", "number of virtual chips"),
    "mismatch": ("mismatch", "mismatch of the virtual chips: 'spec', 0, or a cv like 0.1"),
    "seed": ("seed", "seed of training and task splits; chips are seed .. seed + chips - 1"),
    "instruments": ("instruments", "lab instruments: none, sim (pyvisa-sim), or VISA SUPPLY[,MULTIMETER]"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "hardware-in-the-loop harness")
    for name, (_, help_text) in _OPTIONS.items():
        group.addoption(f"--harness-{name}", default=None, type=int if name in ("chips", "seed") else str,
                        help=help_text)
    group.addoption("--harness-config", default=None, help="run configuration TOML (see `harness run --help`)")
    group.addoption("--harness-results", default=None,
                    help="run directory for records and verdicts (default: a temporary directory)")
    group.addoption("--harness-progress", action="store_true", help="progress bars (use with -s)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_board: needs a chip board (--harness-target a serial URL)")
    config.addinivalue_line("markers", "needs_instrument(kind): needs lab instruments (--harness-instruments)")
    if any(config.getoption(f"harness_{name}") is not None for name in (*_OPTIONS, "config", "results")):
        context_of(config)  # bad option values are usage errors before collection


def context_of(config: pytest.Config) -> Any:
    """The session's HarnessContext, created from the options on first use."""
    if _CONTEXT not in config.stash:
        from harness.context import HarnessContext  # noqa: PLC0415 - keep plugin import cheap
        from harness.results import ResultsError  # noqa: PLC0415
        from harness.run_config import RunConfigError, load_config  # noqa: PLC0415
        overrides = {field: config.getoption(f"harness_{name}") for name, (field, _) in _OPTIONS.items()}
        if overrides["specs"] is not None:
            overrides["specs"] = [overrides["specs"]]
        results = config.getoption("harness_results") or tempfile.mkdtemp(prefix="harness-results-")
        try:
            run_config = load_config(config.getoption("harness_config")).with_options(**overrides)
            config.stash[_CONTEXT] = HarnessContext.open(run_config, results,
                                                         progress=config.getoption("harness_progress"))
        except (RunConfigError, ResultsError) as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[_CONTEXT]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CONTEXT in config.stash:
        config.stash[_CONTEXT].close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _CONTEXT in config.stash:
        ctx = config.stash[_CONTEXT]
        terminalreporter.write_line(f"harness: target {ctx.config.target}, {ctx.config.chips} virtual chips, "
                                    f"results in {ctx.run.root}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "deployed_network" in metafunc.fixturenames:
        from harness.context import network_plan  # noqa: PLC0415
        keys = [key for key, *_ in network_plan(context_of(metafunc.config).config)]
        metafunc.parametrize("deployed_network", keys, indirect=True, ids=keys, scope="session")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_board") is not None:
        target = item.config.getoption("harness_target") or context_of(item.config).config.target
        if target == "emulator":
            pytest.skip("needs a board: --harness-target is the in-process emulator (give a serial URL)")
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
    """A Chip on --harness-target: chip #seed of the spec on the emulator, or the board."""
    config = harness.config
    if not harness.on_emulator:
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
    """The lab supply (and multimeter); skips the test with the reason when unavailable."""
    if harness.config.instruments == "none":
        pytest.skip("needs an instrument: --harness-instruments is none")
    from drivers.instruments import InstrumentError  # noqa: PLC0415
    try:
        return harness.instruments()
    except InstrumentError as exc:
        pytest.skip(f"instruments unavailable: {exc}")
