"""The driver check: a sample of chips run through the target's driver path and on the
batched simulator must agree bit for bit (spikes and activity counters); a board's power
monitor is read beside the model's energy."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from drivers.population import SimulatedPopulation, result_differences
from harness.context import HarnessContext
from harness.energy import energy_per_inference
from harness.networks import Deployment
from harness.suites.chips import supply_v
from harness.suites.conditions import Setup
from sim.chip.activity import COUNTERS


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
                                 None if identity.emulated else supply_v(setup))
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
