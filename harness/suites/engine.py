"""The machinery every suite shares: conditions, yield, reference, records, resume, driver check.

A suite sweeps conditions (a mismatch level, a weight resolution, ...). At each one it
evaluates every virtual chip on the batched simulator, in chunks whose chip records are
written as soon as they are done (finished chips are reused on a rerun), computes the
yield on class-balanced test samples, puts it next to the suite's reference condition
(the same chips without the perturbation under test), cross-checks a sample of chips
through the driver path bit for bit, measures the boards under test meanwhile
(harness.boards: one worker per board, each placed among the virtual chips), and publishes
each chip's measurements and the verdict on the session's measurement stream
(harness.stream), to which the run directory, JUnit and the console subscribe. The verdict
is computed in the test's setup (the plugin's `verdict` fixture), so a chip, target or
instrument that fails is a pytest ERROR; `check` turns the verdict into the test's
assertions (a FAIL).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from drivers.population import SimulatedPopulation, result_differences
from harness.boards.bench import BoardJob, BoardUnderTest
from harness.boards.realise import VIRTUAL_ONLY, unrealisable
from harness.boards.verdicts import judge_boards
from harness.cluster import share, task_options
from harness.compiler import CompiledNetwork
from harness.context import HarnessContext
from harness.deploy import evaluate_deployments
from harness.energy import ENERGY, EVENTS, PER_INFERENCE, energy_per_inference, workload_metrics
from harness.networks import Deployment, compiled_fingerprint
from harness.results import FRACTION, Measurement, accuracy_name, record_fingerprint
from harness.stream import ChipMeasured, ConditionMeasured
from harness.suites.catalog import SUITES
from harness.yields import estimate, yield_measurements
from sim.chip.activity import COUNTERS
from sim.chip.mismatch import MismatchLevel, resolve_cv

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
    if _is_population(ctx, deployment, setup):  # the run's chip population itself: shared with the references
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
    facts["energy"] = workload_metrics(setup.compiled_for(seeds[0]).config, by_name, _steps(deployment),
                                       _supply_v(setup))
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


def population_budgets(params: dict[str, Any]) -> tuple[int, ...]:
    """The calibration budgets measured on the run's chip population: the judged one and
    every one of `budget_curve`."""
    trials, _ = deployments(params)
    return tuple(sorted({0, trials, *(int(k) for k in params["budget_curve"])}))


def _is_population(ctx: HarnessContext, deployment: Deployment, setup: Setup) -> bool:
    """Whether `setup` is the run's chip population unperturbed (e.g. mismatch_yield at the
    run's own level), whose measurements the reference conditions already make."""
    return (str(setup.mismatch) == str(ctx.config.mismatch) and setup.noise_amplitude == 0 and not setup.tag
            and setup.compiled_for(0) is deployment.compiled)


def _deployment(values: np.ndarray, spec_limit: float) -> dict[str, Any]:
    estimated = estimate(values, spec_limit)
    return {"yield": estimated.value, "yield_ci95": list(estimated.interval), "accuracy": _spread(values)}


def measure_chips(ctx: HarnessContext, folder: str, deployment: Deployment, label: str, value: Any, setup: Setup,
                  params: dict[str, Any], budgets: tuple[int, ...]) -> tuple[dict[int, dict[str, float]], int, str]:
    """({chip seed: {measurement name: accuracy}}, chips computed now, the records' fingerprint)
    at condition `label` for each calibration budget, recorded under records/`folder`:
    recorded chips are reused; the others are evaluated in chunks, each chunk's records
    published (and so written) as soon as it is done."""
    fingerprint = _fingerprint(deployment, setup, params, budgets)
    measured: dict[int, dict[str, float]] = {}
    for seed in ctx.config.chip_seeds:
        cached = ctx.run.cached(folder, deployment.key, seed, label, fingerprint)
        if cached is not None:
            measured[seed] = {m.name: m.value for m in cached}
    missing = [s for s in ctx.config.chip_seeds if s not in measured]
    samples, chunk = int(params["samples"]), max(1, int(params["chunk"]))
    limit = float(params["accuracy_spec"])
    _, judged = deployments(params)
    context = {"condition": value, "mismatch": str(setup.mismatch), "noise_amplitude": setup.noise_amplitude,
               "samples": samples, "selection": "class-balanced", "calibration_split": params["calibration_split"],
               **(setup.context or {})}
    chunks = [missing[first:first + chunk] for first in range(0, len(missing), chunk)]
    args = (deployment, setup, samples, ctx.config.backend, budgets, params["calibration_split"])
    steps, volts = _steps(deployment), _supply_v(setup)
    with tqdm(total=len(missing), desc=f"{folder} {deployment.key} {label}", unit="chip",
              disable=not ctx.progress or not missing, leave=False) as bar:
        for part, results in _chunk_results(ctx, chunks, args):
            for i, seed in enumerate(part):
                measured[seed] = {accuracy_name(k): float(results[k][i]) for k in budgets}
                activity = _activity_measurements(setup.compiled_for(seed).config,
                                                  {name: float(results[name][i]) for name in COUNTERS}, steps, volts)
                records = (Measurement("accuracy", measured[seed][judged], FRACTION, low=limit),
                           *(Measurement(name, v, FRACTION) for name, v in measured[seed].items()), *activity)
                measured[seed].update({m.name: m.value for m in activity})
                measured[seed]["accuracy"] = measured[seed][judged]
                ctx.stream.publish(ChipMeasured(folder, deployment.key, label, seed, fingerprint, records, context))
            bar.update(len(part))
    return measured, len(missing), fingerprint


def _activity_measurements(config: Any, counts: dict[str, float], steps: int,
                           volts: float | None) -> tuple[Measurement, ...]:
    """A chip's mean activity per inference and, where the spec has a power model, the
    model's energy per inference at supply `volts` (harness.energy)."""
    energy = energy_per_inference(config, counts, steps, volts)
    return (*(Measurement(PER_INFERENCE[name], counts[name], EVENTS) for name in COUNTERS),
            *((Measurement(ENERGY, energy["total_j"], "J"),) if energy is not None else ()))


def _steps(deployment: Deployment) -> int:
    """Steps of one inference: the length of an encoded test sample."""
    return int(deployment.compiled.encoder.encode(deployment.task.test.inputs[:1]).shape[1])


def _supply_v(setup: Setup) -> float | None:
    """The supply voltage a condition sets (the supply sweep's), else None (nominal)."""
    volts = (setup.context or {}).get("supply_v")
    return None if volts is None else float(volts)


def _population(setup: Setup, seeds: Sequence[int]) -> dict[str, Any]:
    """Which chips a condition ran on, for the summary."""
    return {"mismatch": str(setup.mismatch), "chips": len(seeds), "chip_seeds": f"{seeds[0]}..{seeds[-1]}",
            "noise_amplitude": setup.noise_amplitude, "variant": setup.tag or None}


def _chunk_results(ctx: HarnessContext, chunks: list[list[int]],
                   args: tuple[Any, ...]) -> Iterator[tuple[list[int], dict[int | str, np.ndarray]]]:
    """(chunk, its accuracies per budget) for every chunk of chips, in process in order, or as
    Dask tasks in the order they finish (harness.cluster)."""
    client = ctx.client()
    if client is None or not chunks:
        for part in chunks:
            yield part, _evaluate_chips(part, *args)
        return
    from distributed import as_completed  # noqa: PLC0415 - the cluster extra
    shared = [share(client, value) for value in args[:2]]  # the network and condition, sent once
    futures = client.map(_evaluate_chips, chunks, *([a] * len(chunks) for a in [*shared, *args[2:]]),
                         **task_options(ctx.config.backend))
    part_of = {future.key: part for future, part in zip(futures, chunks)}
    for future in as_completed(futures):
        yield part_of[future.key], future.result()


def _evaluate_chips(seeds: Sequence[int], deployment: Deployment, setup: Setup, samples: int, backend: str,
                    budgets: tuple[int, ...], split: str) -> dict[int | str, np.ndarray]:
    """Accuracies of `seeds` per calibration budget and their activity counters per inference
    (harness.deploy.evaluate_deployments), one call per group of chips sharing a network.
    Nominal chips without noise are bit-identical (CHIP_SPEC §3), so one stands for all."""
    def evaluate(compiled: CompiledNetwork, members: Sequence[int]) -> dict[int | str, np.ndarray]:
        return evaluate_deployments(compiled, deployment.task, chip_seeds=members, mismatch=setup.mismatch,
                                    backend=backend, noise_amplitude=setup.noise_amplitude, samples=samples,
                                    trials=budgets, calibration_split=split)

    if _identical_chips(deployment, setup):
        return {k: np.full(len(seeds), v[0]) for k, v in evaluate(setup.compiled_for(seeds[0]), seeds[:1]).items()}
    groups: dict[int, tuple[CompiledNetwork, list[int]]] = {}
    for seed in seeds:
        compiled = setup.compiled_for(seed)
        groups.setdefault(id(compiled), (compiled, []))[1].append(seed)
    result: dict[int | str, dict[int, float]] = {}
    for compiled, members in groups.values():
        for k, values in evaluate(compiled, members).items():
            result.setdefault(k, {}).update(zip(members, values))
    return {k: np.array([values[s] for s in seeds]) for k, values in result.items()}


def _identical_chips(deployment: Deployment, setup: Setup) -> bool:
    cv = resolve_cv(setup.mismatch, deployment.spec)
    return not any(cv.values()) and setup.noise_amplitude == 0 and not setup.tag


def driver_check(ctx: HarnessContext, deployment: Deployment, setup: Setup, seeds: Sequence[int],
                 samples: int) -> dict[str, Any]:
    """Run a sample of chips on the driver path's population and on the simulated one, and
    count the spike bits that differ (all neurons, every step; sample s uses noise seed s).
    A simulator target has no driver path: comparing the simulator with itself checks nothing."""
    if no_driver_path(ctx.config.target):
        return {"target": ctx.config.target, "chips": [], "bit_errors": 0,
                "skipped": f"no driver path ({ctx.config.target} is the batched simulator itself)"}
    data = deployment.task.test.subset(slice(0, samples))  # bits are compared, so any samples do
    simulated = SimulatedPopulation(setup.mismatch, ctx.config.backend)
    noise = np.arange(len(data), dtype=np.uint64)
    checked, bit_errors, miscounted, skipped = [], 0, 0, None
    for seed in seeds:
        opened = ctx.driver_population(deployment.spec.name, seed, setup.mismatch)
        if opened is None:
            skipped = (f"target {ctx.config.target} is one fixed chip that does not realise mismatch "
                       f"{setup.mismatch}")
            break
        driver, chip_seed, chip_id = opened
        compiled = setup.compiled_for(chip_seed)
        encoded = compiled.encoder.encode(data.inputs)
        runs = [population.run(compiled.config, encoded, [chip_seed] * len(data), noise,
                               noise_amplitude=setup.noise_amplitude) for population in (driver, simulated)]
        driver.close()
        errors = int(np.count_nonzero(runs[0].spikes != runs[1].spikes))
        bit_errors += errors
        counter_errors = _counter_errors(runs[0].activity, runs[1].activity)
        miscounted += counter_errors or 0
        checked.append({"chip_seed": chip_seed, "chip_id": chip_id, "samples": len(data),
                        "bits": int(runs[1].spikes.size), "bit_errors": errors, "counter_errors": counter_errors,
                        "differences": result_differences(runs[1], runs[0], ("simulator", "driver")),
                        "power_monitor": _monitor_reading(ctx, deployment, setup, compiled.config, runs[0],
                                                          encoded.shape[1])})
    return {"target": ctx.config.target, "chips": checked, "bit_errors": bit_errors, "counter_errors": miscounted,
            "skipped": skipped}


def _monitor_reading(ctx: HarnessContext, deployment: Deployment, setup: Setup, config: Any, run: Any,
                     steps: int) -> dict[str, Any] | None:
    """A board's power monitor over the driver check's last inference, beside the model's
    energy of the same counters (None for a target without a monitor). An emulated board's
    monitor knows no supply voltage: it is compared with the model at the nominal supply."""
    if not ctx.fixed_chip or run.activity is None:
        return None
    chip = ctx.board(deployment.spec.name)
    identity = chip.identity()
    if "power_monitor" not in identity.capabilities:
        return None
    rails = chip.read_power().rails
    measured = sum(rails.values())
    model = energy_per_inference(config, run.activity.counts(-1), steps,
                                 None if identity.emulated else _supply_v(setup))
    return {"measured_j": measured, "rails_j": rails, "model_j": model["total_j"] if model else None,
            "model_error": model["total_j"] / measured - 1 if model and measured > 0 else None}


def measured_energy(driver: dict[str, Any]) -> dict[str, Any] | None:
    """The board power monitor's energy per inference over a condition's driver check (mean over
    the checked chips) and the model's mean relative error, or None where none was read."""
    readings = [c["power_monitor"] for c in driver.get("chips", []) if c.get("power_monitor")]
    if not readings:
        return None
    errors = [r["model_error"] for r in readings if r["model_error"] is not None]
    return {"source": "board power monitor, last inference of the driver check", "readings": len(readings),
            "mean_j": float(np.mean([r["measured_j"] for r in readings])),
            "model_error": float(np.mean(errors)) if errors else None}


def _counter_errors(driver: Any, simulated: Any) -> int | None:
    """Trials whose activity counters differ between the driver path and the simulator (None
    when the driver path returned no counters)."""
    if driver is None or simulated is None:
        return None
    return int(np.any([getattr(driver, name) != getattr(simulated, name) for name in COUNTERS], axis=0).sum())


def no_driver_path(target: str) -> bool:
    from drivers.targets import SIMULATOR, parse_target  # noqa: PLC0415 - drivers load on demand
    return parse_target(target).scheme == SIMULATOR


def check(verdict: dict[str, Any]) -> None:
    """The test's assertions: bit-exact driver path, and the yield where it is asserted."""
    driver = verdict["driver"]
    assert driver["bit_errors"] == 0, (
        f"driver path ({driver['target']}) differs from the batched simulator in {driver['bit_errors']} "
        f"spike bits: " + "; ".join(f"chip seed {c['chip_seed']} ({c['chip_id']}): {' '.join(c['differences'])}"
                                    for c in driver["chips"] if c["bit_errors"]))
    assert not driver.get("counter_errors"), (
        f"driver path ({driver['target']}) counts other activity than the batched simulator on "
        f"{driver['counter_errors']} trials: " + "; ".join(
            f"chip seed {c['chip_seed']}: {' '.join(c['differences'])}" for c in driver["chips"] if c.get("counter_errors")))
    if verdict["asserted"]:
        y = verdict["yield"]
        shortfall = (f"yield {y['value']:.3f} < {y['limits']['low']:.3f}" if y.get("rule", "point") == "point" else
                     f"yield {y['value']:.3f} (95% CI {y['ci95'][0]:.3f}-{y['ci95'][1]:.3f}) has a 95% lower "
                     f"confidence bound {y['lower_bound95']:.3f} < {y['limits']['low']:.3f}")
        assert y["outcome"] == "pass", (
            f"{shortfall}: "
            f"{round(y['value'] * len(verdict['chip_seeds']))} of {len(verdict['chip_seeds'])} chips reach "
            f"accuracy >= {verdict['accuracy_spec']:.3f} (median {verdict['accuracy']['median']:.3f}); "
            f"reference {verdict['reference']['condition']} on the same chips: yield "
            f"{verdict['reference']['yield']:.3f}")


def _spread(values: np.ndarray) -> dict[str, float]:
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "min": float(values.min()),
            "max": float(values.max()), "mean": float(values.mean())}


def _fingerprint(deployment: Deployment, setup: Setup, params: dict[str, Any], budgets: tuple[int, ...]) -> str:
    """What a chip's measurements depend on: equal setups give equal fingerprints in any suite."""
    facts = {"network": deployment.fingerprint, "variant": compiled_fingerprint(setup.compiled_for(0))
             if not setup.tag else setup.tag, "mismatch": str(setup.mismatch), "noise": setup.noise_amplitude,
             "samples": params["samples"], "selection": "class-balanced", "spec": params["accuracy_spec"],
             "judge": params["judge"], "budgets": list(budgets), "calibration_split": params["calibration_split"],
             "task": [deployment.task.name, deployment.task.meta], "activity": "per-inference counters, energy"}
    return record_fingerprint(facts)
