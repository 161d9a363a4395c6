"""Evaluate compiled networks on chips: many virtual chips at once, or one `Chip` target.

Both paths encode inputs with the compiled encoder, read the decoder's output neurons and
decode with `Decoder.decode` + `Task.accuracy` over the whole split, so the same spikes give
the same accuracy. Virtual chips × samples are flattened into one run of a chip population
(`drivers.population`: the batched simulator, at most `MAX_BATCH` trials at a time). Sample
s uses noise seed s on every chip. The test trials of a group of chips run on a second
thread while the group's readouts are fitted (the fused kernel releases the GIL, and the
fits use one core: see harness/__init__.py).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Sequence

import numpy as np

from drivers.chip import Chip
from drivers.population import MAX_BATCH, ChipByChip, ChipPopulation, PopulationResult, SimulatedPopulation
from harness.calibration import RidgeChoice, calibration_data, fit_readouts, noise_seeds
from harness.compiler import CompiledNetwork, CompileError
from harness.compiler.decoding import Decoder
from harness.energy import per_inference
from sim.backend import get_backend
from sim.chip.mismatch import MismatchLevel
from sim.network import SpikingNetwork
from sim.perturb import evaluate
from sim.tasks.base import Dataset, Task
from sim.tasks.registry import TaskError, load_task, rebuild_task

TASK_ERRORS = (TaskError,)


def task_for(meta: dict, name: str | None = None) -> Task:
    """The task a network was trained on (same seed and sizes, from its metadata), or `name`
    split with the network's task seed (so a data set given again under a new path keeps
    its training samples out of the test split)."""
    trained_on = meta.get("task")
    name = name or trained_on
    if name is None:
        raise TaskError("the network's metadata names no task; pass --task")
    task_meta = meta.get("task_meta") or {}
    return rebuild_task(name, task_meta) if name == trained_on else load_task(name, int(task_meta.get("seed", 0)))


def check_task(compiled: CompiledNetwork | SpikingNetwork, task: Task) -> None:
    """CompileError unless the network was made for `task` (by name and input/output size)."""
    meta = compiled.meta
    n_in = compiled.n_in if isinstance(compiled, SpikingNetwork) else compiled.encoder.scale.size
    n_out = compiled.n_out if isinstance(compiled, SpikingNetwork) else compiled.decoder.w_out.shape[1]
    name = meta.get("task")
    if name is not None and name != task.name:
        raise CompileError(f"network was trained for task {name!r}, not {task.name!r}")
    if (n_in, n_out) != (task.n_in, task.n_out):
        raise CompileError(f"network has {n_in} inputs and {n_out} outputs; task {task.name!r} has "
                           f"{task.n_in} and {task.n_out}")


def split_data(task: Task, split: str, samples: int | None) -> Dataset:
    """`samples` class-balanced samples of a split (None: the whole split)."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split {split!r}: choose train, val or test")
    data = getattr(task, split)
    return data if samples is None else data.balanced(samples, task.n_classes)


def evaluate_float(net: SpikingNetwork, task: Task, split: str = "test", samples: int | None = None,
                   backend: str = "auto") -> float:
    """Accuracy of the float network (`sim.perturb.evaluate`, unperturbed)."""
    check_task(net, task)
    return float(evaluate(net, task, data=split_data(task, split, samples), backend=get_backend(backend))[0])


def evaluate_batched(compiled: CompiledNetwork, task: Task, split: str = "test",
                     chip_seeds: Sequence[int] = (0,), mismatch: MismatchLevel = "spec", backend: str = "auto",
                     noise_amplitude: int = 0, samples: int | None = None) -> np.ndarray:
    """Accuracy on each chip of `chip_seeds` [chips] with the compiled (uncalibrated) readout."""
    return evaluate_deployments(compiled, task, split=split, chip_seeds=chip_seeds, mismatch=mismatch,
                                backend=backend, noise_amplitude=noise_amplitude, samples=samples)[0]


def evaluate_deployments(compiled: CompiledNetwork, task: Task, *, split: str = "test",
                         chip_seeds: Sequence[int] = (0,), mismatch: MismatchLevel = "spec", backend: str = "auto",
                         noise_amplitude: int = 0, samples: int | None = None, trials: Sequence[int] = (0,),
                         calibration_split: str = "train") -> dict[int | str, np.ndarray]:
    """Accuracy on each chip of `chip_seeds` [chips] per calibration budget in `trials`: 0 is
    the compiled readout, K > 0 the readout fitted on that chip's first K class-balanced
    calibration trials (harness.calibration); and under each activity counter's name
    (`sim.chip.activity.COUNTERS`) its mean per test inference on each chip. Chips run in
    groups whose trials (calibration and test, chips × samples) fit one batch of the
    simulator; every chip is judged by `Task.accuracy` on the whole selection, as on a
    single chip."""
    check_task(compiled, task)
    data = split_data(task, split, samples)
    population = SimulatedPopulation(mismatch, backend)
    most = max(trials)
    calibration = calibration_data(task, most, calibration_split) if most else None
    encoded = compiled.encoder.encode(data.inputs)
    encoded_calibration = None if calibration is None else compiled.encoder.encode(calibration.inputs)
    seeds = [int(s) for s in chip_seeds]
    per_group = max(1, MAX_BATCH // (len(data) + most))
    accuracy: dict[int | str, list[np.ndarray]] = {k: [] for k in trials}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-trials") as simulator:
        for first in range(0, len(seeds), per_group):
            group = seeds[first:first + per_group]
            readouts = {0: [compiled.decoder] * len(group)}
            cal_spikes = None if calibration is None else population_spikes(
                compiled, encoded_calibration, group, noise_seeds(most), population, noise_amplitude)
            test = simulator.submit(population_run, compiled, encoded, group, np.arange(len(data), dtype=np.uint64),
                                    population, noise_amplitude)  # while the readouts are fitted
            for k in trials:
                if k and cal_spikes is not None:
                    readouts[k], _ = fit_readouts(compiled.decoder, cal_spikes[:, :k],
                                                  calibration.subset(slice(0, k)), task.n_classes)
            run = test.result()
            spikes = run.spikes.reshape(len(group), len(data), *run.spikes.shape[1:])
            for name, values in (per_inference(run.activity, len(group)) if run.activity is not None else {}).items():
                accuracy.setdefault(name, []).append(values)
            outputs: dict[int, list[np.ndarray]] = {k: [] for k in trials}
            for i, chip in enumerate(spikes):
                chip = chip.astype(np.float64)  # once per chip for every readout
                for k in trials:
                    outputs[k].append(readouts[k][i].decode(chip))
            for k in trials:
                accuracy[k].append(task.accuracy(np.stack(outputs[k]), data))
    return {k: np.concatenate(v) for k, v in accuracy.items()}


def population_run(compiled: CompiledNetwork, encoded: np.ndarray, chip_seeds: Sequence[int],
                   noise_seeds: np.ndarray, population: ChipPopulation, noise_amplitude: int = 0) -> PopulationResult:
    """Every chip of `population` on every encoded sample [samples, T, M] (sample s with noise
    seed noise_seeds[s]), chips × samples in one run, trials chip by chip: the output neurons'
    spikes [chips · samples, T, K] and the activity counters of every trial."""
    n = len(encoded)
    chip_of, sample_of = np.repeat(np.asarray(chip_seeds, np.uint64), n), np.tile(np.arange(n), len(chip_seeds))
    return population.run(compiled.config, encoded[sample_of], chip_of, np.asarray(noise_seeds, np.uint64)[sample_of],
                          noise_amplitude=noise_amplitude, neurons=compiled.decoder.neurons)


def population_spikes(compiled: CompiledNetwork, encoded: np.ndarray, chip_seeds: Sequence[int],
                      noise_seeds: np.ndarray, population: ChipPopulation, noise_amplitude: int = 0) -> np.ndarray:
    """Output-neuron spikes [chips, samples, T, K] of `population_run`."""
    spikes = population_run(compiled, encoded, chip_seeds, noise_seeds, population, noise_amplitude).spikes
    return spikes.reshape(len(chip_seeds), len(encoded), *spikes.shape[1:])


def calibrate_on_chip(compiled: CompiledNetwork, chip: Chip, task: Task, trials: int, split: str = "train",
                      noise_amplitude: int = 0) -> tuple[Decoder, RidgeChoice]:
    """(the chip's fitted readout, the chosen ridge) from `trials` class-balanced
    calibration trials run through one chip target (loads the configuration)."""
    check_task(compiled, task)
    data = calibration_data(task, trials, split)
    spikes = population_spikes(compiled, compiled.encoder.encode(data.inputs), [0], noise_seeds(trials),
                               ChipByChip.for_chip(chip), noise_amplitude)
    decoders, choices = fit_readouts(compiled.decoder, spikes, data, task.n_classes)
    return decoders[0], choices[0]


def evaluate_on_chip(compiled: CompiledNetwork, chip: Chip, task: Task, split: str = "test",
                     samples: int | None = None, noise_amplitude: int = 0, decoder: Decoder | None = None) -> float:
    """Accuracy on one chip target through the `Chip` protocol (loads the configuration),
    read out with `decoder` (a calibration's) or the compiled readout."""
    return measure_on_chip(compiled, chip, task, split, samples, noise_amplitude, decoder)[0]


def measure_on_chip(compiled: CompiledNetwork, chip: Chip, task: Task, split: str = "test",
                    samples: int | None = None, noise_amplitude: int = 0,
                    decoder: Decoder | None = None) -> tuple[float, PopulationResult]:
    """(accuracy, the run: output spikes and each inference's activity counters, where the
    target counts) on one chip target, as `evaluate_on_chip`."""
    check_task(compiled, task)
    data = split_data(task, split, samples)
    run = population_run(compiled, compiled.encoder.encode(data.inputs), [0], np.arange(len(data), dtype=np.uint64),
                         ChipByChip.for_chip(chip), noise_amplitude)
    return float(task.accuracy((decoder or compiled.decoder).decode(run.spikes), data)), run


def refit_readout(compiled: CompiledNetwork, task: Task, backend: str = "auto") -> CompiledNetwork:
    """The compiled network with its readout re-fitted by ridge on the nominal chip's spikes on
    the training split (host-side only: the chip configuration is unchanged)."""
    train = task.train
    spikes = population_spikes(compiled, compiled.encoder.encode(train.inputs), [0],
                               np.arange(len(train), dtype=np.uint64), SimulatedPopulation(0, backend))[0]
    return replace(compiled, decoder=compiled.decoder.refit(spikes, train.targets, train.mask),
                   report={**compiled.report, "readout_refit": {"split": "train", "samples": len(train),
                                                                "chip": "nominal"}})


def measure(net: SpikingNetwork, compiled: CompiledNetwork, task: Task, *, chips: int = 8,
            mismatch: MismatchLevel = "spec", samples: int | None = None, backend: str = "auto",
            refit: bool = False) -> tuple[CompiledNetwork, dict]:
    """(the compiled network, its accuracy record): test accuracy of the float network, the
    nominal chip and `chips` virtual chips (seeds 0..chips-1) at `mismatch`; with `refit`,
    the readout is first re-fitted on the nominal chip (the returned network has it)."""
    def nominal() -> float:
        return float(evaluate_batched(compiled, task, mismatch=0, backend=backend, samples=samples)[0])

    record = {"split": "test", "samples": len(split_data(task, "test", samples)), "refit": refit,
              "float": evaluate_float(net, task, samples=samples, backend=backend), "nominal_before_refit": None}
    if refit:
        record["nominal_before_refit"] = nominal()
        compiled = refit_readout(compiled, task, backend)
    record["nominal"] = nominal()
    if chips:
        per_chip = evaluate_batched(compiled, task, chip_seeds=range(chips), mismatch=mismatch, backend=backend,
                                    samples=samples)
        record["chips"] = {"mismatch": str(mismatch), "seeds": list(range(chips)), "per_chip": per_chip.tolist(),
                           "median": float(np.median(per_chip)), "min": float(per_chip.min()),
                           "max": float(per_chip.max())}
    return compiled, record

