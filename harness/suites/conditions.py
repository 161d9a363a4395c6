"""A suite's sweep as conditions, and how the chips run at each (`Setup`): the network each
chip runs, its mismatch and noise; the reference condition beside it; the calibration
budgets measured."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from harness.compiler import CompiledNetwork
from harness.context import HarnessContext
from harness.networks import Deployment
from harness.results import accuracy_name
from harness.suites.catalog import SUITES
from sim.chip.mismatch import MismatchLevel

REFERENCE = "reference"  # records of the reference conditions, shared by the suites


@dataclass(frozen=True)
class Condition:
    """One point of a suite's sweep; `asserted` conditions carry a yield verdict."""

    label: str      # file-name-safe, e.g. "level=0.1"
    value: Any
    asserted: bool


def conditions(params: dict[str, Any], suite: str) -> list[Condition]:
    """The sweep of `suite` as conditions labelled `name=value`, asserted per `assert_at`."""
    declared = SUITES[suite]
    asserted = {str(v) for v in params.get("assert_at", [])}
    return [Condition(f"{declared.condition}={value}", value, str(value) in asserted)
            for value in params[declared.key]]


@dataclass
class Setup:
    """How the chips run at one condition. `compiled_for(chip_seed)` is the network a chip
    runs (the same object for chips that share a configuration); `tag` names any per-chip
    variation for the record fingerprint."""

    compiled_for: Callable[[int], CompiledNetwork]
    mismatch: MismatchLevel
    noise_amplitude: int = 0
    tag: str = ""
    context: dict[str, Any] | None = None   # extra facts written into each chip record
    for_board: Callable[[int], CompiledNetwork] | None = None  # what board #i loads (None: compiled_for(i))


def same_network(compiled: CompiledNetwork) -> Callable[[int], CompiledNetwork]:
    return lambda _seed: compiled


def reference_setup(ctx: HarnessContext, suite: str, deployment: Deployment) -> Setup:
    """The same chips without the suite's perturbation: the nominal chips for the mismatch
    sweep, the run's chip population (at its mismatch) for every other suite."""
    mismatch = 0.0 if SUITES[suite].perturbs_population else ctx.config.mismatch
    return Setup(same_network(deployment.compiled), mismatch=mismatch)


def deployments(params: dict[str, Any]) -> tuple[int, str]:
    """(calibration trials per chip, name of the judged measurement) from a suite's parameters."""
    trials = int(params["calibration_trials"])
    return trials, accuracy_name(trials if params["judge"] == "calibrated" else 0)


def population_budgets(params: dict[str, Any]) -> tuple[int, ...]:
    """The calibration budgets measured on the run's chip population: the judged one and
    every one of `budget_curve`."""
    trials, _ = deployments(params)
    return tuple(sorted({0, trials, *(int(k) for k in params["budget_curve"])}))


def is_population(ctx: HarnessContext, deployment: Deployment, setup: Setup) -> bool:
    """Whether `setup` is the run's chip population unperturbed (e.g. mismatch_yield at the
    run's own level), whose measurements the reference conditions already make."""
    return (str(setup.mismatch) == str(ctx.config.mismatch) and setup.noise_amplitude == 0 and not setup.tag
            and setup.compiled_for(0) is deployment.compiled)
