"""Every virtual chip at one condition: recorded chips reused, the others evaluated in
chunks (in process or on Dask), each chunk's records published as soon as it is done."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from harness.cluster import share, task_options
from harness.compiler import CompiledNetwork
from harness.context import HarnessContext
from harness.deploy import evaluate_deployments
from harness.energy import ENERGY, EVENTS, PER_INFERENCE, energy_per_inference
from harness.networks import Deployment, compiled_fingerprint
from harness.results import FRACTION, Measurement, accuracy_name, record_fingerprint
from harness.stream import ChipMeasured
from harness.suites.conditions import Setup, deployments
from sim.chip.activity import COUNTERS
from sim.chip.mismatch import resolve_cv


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
    steps, volts = inference_steps(deployment), supply_v(setup)
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


def inference_steps(deployment: Deployment) -> int:
    """Steps of one inference: the length of an encoded test sample."""
    return int(deployment.compiled.encoder.encode(deployment.task.test.inputs[:1]).shape[1])


def supply_v(setup: Setup) -> float | None:
    """The supply voltage a condition sets (the supply sweep's), else None (nominal)."""
    volts = (setup.context or {}).get("supply_v")
    return None if volts is None else float(volts)


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


def _fingerprint(deployment: Deployment, setup: Setup, params: dict[str, Any], budgets: tuple[int, ...]) -> str:
    """What a chip's measurements depend on: equal setups give equal fingerprints in any suite."""
    facts = {"network": deployment.fingerprint, "variant": compiled_fingerprint(setup.compiled_for(0))
             if not setup.tag else setup.tag, "mismatch": str(setup.mismatch), "noise": setup.noise_amplitude,
             "samples": params["samples"], "selection": "class-balanced", "spec": params["accuracy_spec"],
             "judge": params["judge"], "budgets": list(budgets), "calibration_split": params["calibration_split"],
             "task": [deployment.task.name, deployment.task.meta], "activity": "per-inference counters, energy"}
    return record_fingerprint(facts)
