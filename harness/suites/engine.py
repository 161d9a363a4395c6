"""The machinery every suite shares: conditions, yield, records, resume, driver cross-check.

A suite sweeps conditions (a mismatch level, a weight resolution, ...). At each one it
evaluates every virtual chip on the batched simulator, in chunks whose chip records are
written as soon as they are done (finished chips are reused on a rerun), computes the
yield, cross-checks a sample of chips through the driver path bit for bit, and writes a
verdict. `check` turns a verdict into the test's assertion.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from harness.compiler import CompiledNetwork
from harness.context import HarnessContext
from harness.deploy import evaluate_batched, split_data
from harness.networks import Deployment, compiled_fingerprint
from harness.results import FRACTION, Measurement
from sim.chip.batched import BatchedChips
from sim.chip.mismatch import MismatchLevel, resolve_cv


@dataclass(frozen=True)
class Condition:
    """One point of a suite's sweep; `asserted` conditions carry a yield verdict."""

    label: str      # file-name-safe, e.g. "level=0.1"
    value: Any
    asserted: bool


def conditions(params: dict[str, Any], key: str, name: str) -> list[Condition]:
    """The sweep `params[key]` as conditions labelled `name=value`, asserted per `assert_at`."""
    asserted = {str(v) for v in params.get("assert_at", [])}
    return [Condition(f"{name}={value}", value, str(value) in asserted) for value in params[key]]


def parametrize(metafunc: Any, suite: str, key: str, name: str) -> None:
    """pytest_generate_tests helper: one test case per condition of `suite`."""
    if "condition" in metafunc.fixturenames:
        from harness.plugin import context_of  # noqa: PLC0415 - the plugin owns the session context
        sweep = conditions(context_of(metafunc.config).config.suite_params(suite), key, name)
        metafunc.parametrize("condition", sweep, ids=[c.label for c in sweep])


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


def same_network(compiled: CompiledNetwork) -> Callable[[int], CompiledNetwork]:
    return lambda _seed: compiled


def evaluate_condition(ctx: HarnessContext, suite: str, deployment: Deployment, condition: Condition,
                       setup: Setup) -> dict[str, Any]:
    """Accuracy of every chip at `condition` (reusing recorded chips), yield, driver check, verdict."""
    params = ctx.config.suite_params(suite)
    started = time.perf_counter()
    fingerprint = _fingerprint(deployment, condition, setup, params)
    accuracy, computed = measure_chips(ctx, suite, deployment, condition, setup, fingerprint)
    seeds = ctx.config.chip_seeds
    values = np.array([accuracy[s] for s in seeds])
    spec_limit, threshold = float(params["accuracy_spec"]), float(params["yield_threshold"])
    yield_ = Measurement("yield", float(np.mean(values >= spec_limit)), FRACTION,
                         low=threshold if condition.asserted else None)
    previous = ctx.run.read_json(ctx.run.verdict_path(suite, deployment.key, condition.label)) or {}
    driver = previous.get("driver") if previous.get("fingerprint") == fingerprint else None
    if driver is None:
        driver = driver_check(ctx, deployment, setup, seeds[:int(params["driver_chips"])],
                              int(params["driver_samples"]))
    outcome = "fail" if driver["bit_errors"] else yield_.outcome if condition.asserted else "info"
    verdict = {
        "condition_value": condition.value, "asserted": condition.asserted, "fingerprint": fingerprint,
        "method": deployment.network.meta.get("method"), "task": deployment.task.name,
        "spec": deployment.spec.name, "accuracy_spec": spec_limit, "yield_threshold": threshold,
        "samples": int(params["samples"]), "yield": yield_.to_dict(), "accuracy": _spread(values),
        "chip_seeds": seeds, "accuracies": values.tolist(), "computed_chips": computed,
        "reused_chips": len(seeds) - computed, "driver": driver, "outcome": outcome,
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    ctx.run.write_verdict(suite, deployment.key, condition.label, verdict)
    return verdict


def measure_chips(ctx: HarnessContext, suite: str, deployment: Deployment, condition: Condition, setup: Setup,
                  fingerprint: str) -> tuple[dict[int, float], int]:
    """(accuracy per chip seed, chips computed now): recorded chips are reused; the others are
    evaluated in chunks, each chunk's records written as soon as it is done."""
    params = ctx.config.suite_params(suite)
    accuracy: dict[int, float] = {}
    for seed in ctx.config.chip_seeds:
        cached = ctx.run.cached(suite, deployment.key, seed, condition.label, fingerprint)
        if cached is not None:
            accuracy[seed] = next(m.value for m in cached if m.name == "accuracy")
    missing = [s for s in ctx.config.chip_seeds if s not in accuracy]
    samples, chunk = int(params["samples"]), max(1, int(params["chunk"]))
    context = {"condition": condition.value, "mismatch": str(setup.mismatch),
               "noise_amplitude": setup.noise_amplitude, "samples": samples, **(setup.context or {})}
    with tqdm(total=len(missing), desc=f"{suite} {deployment.key} {condition.label}", unit="chip",
              disable=not ctx.progress or not missing, leave=False) as bar:
        for first in range(0, len(missing), chunk):
            part = missing[first:first + chunk]
            for seed, value in zip(part, _evaluate_chips(deployment, setup, part, samples, ctx.config.backend)):
                accuracy[seed] = float(value)
                measurement = Measurement("accuracy", float(value), FRACTION, low=float(params["accuracy_spec"]))
                ctx.run.record(suite, deployment.key, seed, condition.label, fingerprint, [measurement], context)
            bar.update(len(part))
    return accuracy, len(missing)


def _evaluate_chips(deployment: Deployment, setup: Setup, seeds: Sequence[int], samples: int,
                    backend: str) -> np.ndarray:
    """Accuracies of `seeds`, one evaluate_batched call per group of chips sharing a network.
    Nominal chips without noise are bit-identical (CHIP_SPEC §3), so one stands for all."""
    if _identical_chips(deployment, setup):
        value = evaluate_batched(setup.compiled_for(seeds[0]), deployment.task, chip_seeds=seeds[:1],
                                 mismatch=setup.mismatch, backend=backend, samples=samples)[0]
        return np.full(len(seeds), value)
    groups: dict[int, tuple[CompiledNetwork, list[int]]] = {}
    for seed in seeds:
        compiled = setup.compiled_for(seed)
        groups.setdefault(id(compiled), (compiled, []))[1].append(seed)
    result: dict[int, float] = {}
    for compiled, members in groups.values():
        values = evaluate_batched(compiled, deployment.task, chip_seeds=members, mismatch=setup.mismatch,
                                  backend=backend, noise_amplitude=setup.noise_amplitude, samples=samples)
        result.update(zip(members, values))
    return np.array([result[s] for s in seeds])


def _identical_chips(deployment: Deployment, setup: Setup) -> bool:
    cv = resolve_cv(setup.mismatch, deployment.spec)
    return not any(cv.values()) and setup.noise_amplitude == 0 and not setup.tag


def driver_check(ctx: HarnessContext, deployment: Deployment, setup: Setup, seeds: Sequence[int],
                 samples: int) -> dict[str, Any]:
    """Run a sample of chips through the driver path and count spike bits that differ from
    the batched simulator (all neurons, every step; sample s uses noise seed s)."""
    data = split_data(deployment.task, "test", samples)
    checked, bit_errors, skipped = [], 0, None
    for seed in seeds:
        opened = ctx.driver_chip(deployment.spec.name, seed, setup.mismatch)
        if opened is None:
            skipped = (f"target {ctx.config.target} is one fixed chip that does not realise mismatch "
                       f"{setup.mismatch}")
            break
        chip, chip_seed = opened
        compiled = setup.compiled_for(chip_seed)
        encoded = compiled.encoder.encode(data.inputs)
        chip.load(compiled.config)
        driver = np.stack([chip.run(encoded[s], noise_amplitude=setup.noise_amplitude, noise_seed=s).spikes
                           for s in range(len(data))])
        batched = BatchedChips(compiled.config, [chip_seed] * len(data), setup.mismatch, ctx.config.backend).run(
            encoded, noise_amplitude=setup.noise_amplitude, noise_seeds=np.arange(len(data), dtype=np.uint64)).spikes
        errors = int(np.count_nonzero(driver != batched))
        bit_errors += errors
        checked.append({"chip_seed": chip_seed, "chip_id": chip.identity().chip_id, "samples": len(data),
                        "bits": int(batched.size), "bit_errors": errors})
        if ctx.on_emulator:
            chip.close()
    return {"target": ctx.config.target, "chips": checked, "bit_errors": bit_errors, "skipped": skipped}


def check(verdict: dict[str, Any]) -> None:
    """The test's assertions: bit-exact driver path, and the yield where it is asserted."""
    driver = verdict["driver"]
    assert driver["bit_errors"] == 0, (
        f"driver path ({driver['target']}) differs from the batched simulator in {driver['bit_errors']} "
        f"spike bits: {driver['chips']}")
    if verdict["asserted"]:
        y = verdict["yield"]
        assert y["outcome"] == "pass", (
            f"yield {y['value']:.3f} < {y['limits']['low']:.3f}: "
            f"{round(y['value'] * len(verdict['chip_seeds']))} of {len(verdict['chip_seeds'])} chips reach "
            f"accuracy >= {verdict['accuracy_spec']:.3f} (median {verdict['accuracy']['median']:.3f})")


def _spread(values: np.ndarray) -> dict[str, float]:
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "min": float(values.min()),
            "max": float(values.max()), "mean": float(values.mean())}


def _fingerprint(deployment: Deployment, condition: Condition, setup: Setup, params: dict[str, Any]) -> str:
    facts = {"network": deployment.fingerprint, "variant": compiled_fingerprint(setup.compiled_for(0))
             if not setup.tag else setup.tag, "condition": condition.label, "mismatch": str(setup.mismatch),
             "noise": setup.noise_amplitude, "samples": params["samples"], "spec": params["accuracy_spec"],
             "task": [deployment.task.name, deployment.task.meta]}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]
