"""A condition's verdict: every chip's accuracy in both deployments, the judged yield and its
confidence, the reference condition beside it, the driver check, the boards under test, and
activity and energy per inference, published on the session's measurement stream."""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from harness.boards.bench import BoardJob, BoardUnderTest
from harness.boards.realise import VIRTUAL_ONLY, unrealisable
from harness.boards.verdicts import judge_boards
from harness.context import HarnessContext
from harness.energy import ENERGY, EVENTS, workload_metrics
from harness.networks import Deployment
from harness.results import FRACTION, Measurement, accuracy_name
from harness.stream import ConditionMeasured
from harness.suites.catalog import SUITES
from harness.suites.chips import inference_steps, measure_chips, supply_v
from harness.suites.conditions import (REFERENCE, Condition, Setup, deployments, is_population, population_budgets,
                                       reference_setup)
from harness.suites.driver_check import driver_check, measured_energy
from harness.yields import estimate, yield_measurements


def evaluate_condition(ctx: HarnessContext, suite: str, deployment: Deployment, condition: Condition,
                       setup: Setup) -> dict[str, Any]:
    """Accuracy of every chip at `condition` (reusing recorded chips), uncalibrated and
    calibrated; the judged deployment's yield; the reference condition beside it; driver
    check; verdict."""
    params = ctx.config.suite_params(suite)
    started = time.perf_counter()
    spec_limit, threshold = float(params["accuracy_spec"]), float(params["yield_threshold"])
    trials, judged = deployments(params)
    boards = _start_boards(ctx, suite, deployment, condition, setup, params)  # they run while the chips compute
    if is_population(ctx, deployment, setup):  # the run's chip population itself: shared with the references
        measured, computed, fingerprint = measure_chips(ctx, REFERENCE, deployment, f"mismatch={setup.mismatch}",
                                                        setup.mismatch, setup, params, population_budgets(params))
    else:
        measured, computed, fingerprint = measure_chips(ctx, suite, deployment, condition.label, condition.value,
                                                        setup, params, (0, trials))
    seeds = ctx.config.chip_seeds
    by_name = {name: np.array([measured[s][name] for s in seeds]) for name in measured[seeds[0]]}
    values = by_name[judged]
    rule = params["yield_rule"]
    estimated = estimate(values, spec_limit)
    yields = yield_measurements(estimated, threshold if condition.asserted else None, rule)
    judged_outcome = "fail" if any(m.outcome == "fail" for m in yields) else "pass" if condition.asserted else "info"
    previous = ctx.run.read_json(ctx.run.verdict_path(suite, deployment.key, condition.label)) or {}
    driver = previous.get("driver") if previous.get("fingerprint") == fingerprint else None
    if driver is None:
        driver = driver_check(ctx, deployment, setup, seeds[:int(params["driver_chips"])],
                              int(params["driver_samples"]))
    outcome = "fail" if driver["bit_errors"] or driver.get("counter_errors") else judged_outcome
    facts = {
        "condition_value": condition.value, "asserted": condition.asserted, "fingerprint": fingerprint,
        "method": deployment.network.meta.get("method"), "task": deployment.task.name,
        "spec": deployment.spec.name, "accuracy_spec": spec_limit, "yield_threshold": threshold,
        "samples": int(params["samples"]), "chance": deployment.task.chance,
        "judged": {"deployment": params["judge"], "calibration_trials": trials if params["judge"] == "calibrated"
                   else 0, "calibration_split": params["calibration_split"]},
        "deployments": {name: _deployment(by_name[accuracy_name(k)], spec_limit)
                        for name, k in (("uncalibrated", 0), ("calibrated", trials))},
        "population": _population(setup, seeds), "accuracy": _spread(values),
        "yield": {**yields[0].to_dict(), "limits": {"low": threshold if condition.asserted else None, "high": None},
                  "outcome": judged_outcome, "rule": rule, **estimated.to_dict()},
        "reference": reference(ctx, suite, deployment, values),
        "chip_seeds": seeds, "accuracies": values.tolist(), "computed_chips": computed,
        "reused_chips": len(seeds) - computed, "driver": driver,
        "boards": None if boards is None else judge_boards([wait() for wait in boards], values, judged=judged,
                                                           spec_limit=spec_limit, samples=int(params["samples"]),
                                                           asserted=condition.asserted),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    facts["energy"] = workload_metrics(setup.compiled_for(seeds[0]).config, by_name, inference_steps(deployment),
                                       supply_v(setup))
    facts["energy"]["energy_per_inference"]["measured"] = measured_energy(driver)
    measured_condition = ConditionMeasured(
        suite, deployment.key, condition.label,
        condition_measurements(yields, by_name, trials, spec_limit, driver, facts["energy"]), outcome, facts)
    ctx.stream.publish(measured_condition)
    return measured_condition.verdict()


def _start_boards(ctx: HarnessContext, suite: str, deployment: Deployment, condition: Condition, setup: Setup,
                  params: dict[str, Any]) -> list[Callable[[], dict[str, Any]]] | None:
    """Start measuring the boards under test at `condition` (harness.boards); None without boards."""
    bench = ctx.boards()
    if bench is None:
        return None

    def job_for(board: BoardUnderTest) -> BoardJob:
        compiled = (setup.for_board or setup.compiled_for)(board.index)
        return BoardJob(compiled, setup.noise_amplitude, int(params["samples"]), int(params["calibration_trials"]),
                        params["calibration_split"], dict(setup.context or {}))

    def reason_for(board: BoardUnderTest) -> str | None:
        if deployment.spec.name != bench.spec:
            return (f"{VIRTUAL_ONLY}: the boards are {bench.spec} chips, this network is compiled for "
                    f"{deployment.spec.name}")
        return unrealisable(suite, condition.value, board.identity.mismatch, population_mismatch=ctx.config.mismatch,
                            instruments=ctx.config.instruments, spec=deployment.spec.name)

    return bench.start(suite, deployment, condition.label, job_for, reason_for)


def condition_measurements(judged: tuple[Measurement, ...], by_name: dict[str, np.ndarray], trials: int,
                           spec_limit: float, driver: dict[str, Any],
                           energy: dict[str, Any]) -> tuple[Measurement, ...]:
    """A condition's measurements with names, units and limits (OpenHTF style): the judged
    yield with its confidence (the limit on the one the yield rule judges), both deployments'
    yield with its interval and median accuracy, activity and energy per inference (means over
    chips; harness.energy), and the driver check when one ran (none without a driver path, or
    when the target cannot realise the chips)."""
    measurements = [*judged]
    for deployment, k in (("uncalibrated", 0), ("calibrated", trials)):
        values = by_name[accuracy_name(k)]
        measurements += [*yield_measurements(estimate(values, spec_limit), None, "point", f"yield_{deployment}"),
                         Measurement(f"accuracy_median_{deployment}", float(np.median(values)), FRACTION)]
    model = energy["energy_per_inference"]["model_j"]
    if model is not None:
        measurements.append(Measurement(ENERGY, model["mean"], "J"))
    measurements += [Measurement("synaptic_operations_per_inference",
                                 energy["synaptic_operations"]["Effective_ACs"], EVENTS),
                     Measurement("spikes_per_inference", energy["spikes_per_inference"]["mean"], EVENTS),
                     Measurement("activation_sparsity", energy["activation_sparsity"], FRACTION),
                     Measurement("latency_per_inference", energy["latency_per_inference_s"], "s")]
    if driver["chips"]:
        measurements.append(Measurement("driver_bit_errors", float(driver["bit_errors"]), "bits", high=0.0))
    return tuple(measurements)


def reference(ctx: HarnessContext, suite: str, deployment: Deployment, values: np.ndarray) -> dict[str, Any]:
    """The suite's reference condition on the same chips (the judged deployment, and for the
    run's chip population every calibration budget of `budget_curve`), and the change from it
    to `values`."""
    setup = reference_setup(ctx, suite, deployment)
    label = f"mismatch={setup.mismatch}"
    params = ctx.config.suite_params(suite)
    spec_limit = float(params["accuracy_spec"])
    trials, judged = deployments(params)
    if SUITES[suite].perturbs_population:
        curve, budgets = [], (0, trials)
    else:
        curve, budgets = [int(k) for k in params["budget_curve"]], population_budgets(params)
    measured, _, _ = measure_chips(ctx, REFERENCE, deployment, label, setup.mismatch, setup, params, budgets)
    seeds = ctx.config.chip_seeds
    ref = np.array([measured[s][judged] for s in seeds])
    ref_estimate = estimate(ref, spec_limit)
    ref_yield = ref_estimate.value
    return {"condition": label, "population": _population(setup, seeds), "yield": ref_yield,
            "yield_ci95": list(ref_estimate.interval),
            "median": float(np.median(ref)), "delta_yield": float(np.mean(values >= spec_limit)) - ref_yield,
            "delta_median": float(np.median(values) - np.median(ref)),
            "budget_curve": {str(k): _deployment(np.array([measured[s][accuracy_name(k)] for s in seeds]), spec_limit)
                             for k in curve}}


def _deployment(values: np.ndarray, spec_limit: float) -> dict[str, Any]:
    estimated = estimate(values, spec_limit)
    return {"yield": estimated.value, "yield_ci95": list(estimated.interval), "accuracy": _spread(values)}


def _population(setup: Setup, seeds: Sequence[int]) -> dict[str, Any]:
    """Which chips a condition ran on, for the summary."""
    return {"mismatch": str(setup.mismatch), "chips": len(seeds), "chip_seeds": f"{seeds[0]}..{seeds[-1]}",
            "noise_amplitude": setup.noise_amplitude, "variant": setup.tag or None}


def _spread(values: np.ndarray) -> dict[str, float]:
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "min": float(values.min()),
            "max": float(values.max()), "mean": float(values.mean())}
