"""Evaluate compiled networks on chips: many virtual chips at once, or one `Chip` target.

Both paths encode inputs with the compiled encoder, read the decoder's output neurons and
decode with `Decoder.decode` + `Task.accuracy` over the whole split, so the same spikes give
the same accuracy. Virtual chips × samples are flattened into the batch of `BatchedChips`
in chunks of at most `MAX_BATCH` trials. Sample s uses noise seed s on every chip.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from drivers.chip import Chip
from harness.compiler import CompiledNetwork, CompileError
from sim.backend import get_backend
from sim.chip.batched import BatchedChips
from sim.chip.mismatch import MismatchLevel
from sim.lif import lif_params, simulate
from sim.network import SpikingNetwork
from sim.tasks.base import Dataset, Task
from sim.tasks.registry import TaskError, load_task

MAX_BATCH = 256
TASK_ERRORS = (TaskError,)


def task_for(meta: dict, name: str | None = None) -> Task:
    """The task a network was trained on (same seed and sizes, from its metadata), or `name`."""
    trained_on = meta.get("task")
    name = name or trained_on
    if name is None:
        raise TaskError("the network's metadata names no task; pass --task")
    task_meta = dict(meta.get("task_meta") or {}) if name == trained_on else {}
    seed = int(task_meta.pop("seed", 0))
    return load_task(name, seed, **task_meta)


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
    if split not in ("train", "val", "test"):
        raise ValueError(f"split {split!r}: choose train, val or test")
    data = getattr(task, split)
    return data if samples is None else data.subset(slice(0, samples))


def evaluate_float(net: SpikingNetwork, task: Task, split: str = "test", samples: int | None = None,
                   backend: str = "auto") -> float:
    """Accuracy of the float network (`sim.lif`)."""
    check_task(net, task)
    data = split_data(task, split, samples)
    be = get_backend(backend)
    outputs = be.to_numpy(simulate(lif_params(net, be), data.inputs, be).outputs)[0]
    return float(task.accuracy(outputs, data))


def evaluate_batched(compiled: CompiledNetwork, task: Task, split: str = "test",
                     chip_seeds: Sequence[int] = (0,), mismatch: MismatchLevel = "spec", backend: str = "auto",
                     noise_amplitude: int = 0, samples: int | None = None) -> np.ndarray:
    """Accuracy on each chip of `chip_seeds` [chips] (BatchedChips, chips × samples in one batch).

    Chips are taken in groups whose outputs on the whole split fit in memory, so every chip
    is judged by `Task.accuracy` on the full split, as on a single chip."""
    check_task(compiled, task)
    data = split_data(task, split, samples)
    encoded = compiled.encoder.encode(data.inputs)
    seeds, n_samples = [int(s) for s in chip_seeds], len(data)
    per_group = max(1, MAX_BATCH // n_samples)
    accuracy = []
    for first in range(0, len(seeds), per_group):
        group = seeds[first:first + per_group]
        chip_of, sample_of = np.repeat(group, n_samples), np.tile(np.arange(n_samples), len(group))
        outputs = np.concatenate([
            compiled.decoder.decode(BatchedChips(compiled.config, chip_of[lo:lo + MAX_BATCH].tolist(), mismatch,
                                                 backend).run(
                encoded[sample_of[lo:lo + MAX_BATCH]], noise_amplitude=noise_amplitude,
                noise_seeds=sample_of[lo:lo + MAX_BATCH].astype(np.uint64), neurons=compiled.decoder.neurons).spikes)
            for lo in range(0, chip_of.size, MAX_BATCH)])
        accuracy.append(task.accuracy(outputs.reshape(len(group), n_samples, *outputs.shape[1:]), data))
    return np.concatenate(accuracy)


def evaluate_on_chip(compiled: CompiledNetwork, chip: Chip, task: Task, split: str = "test",
                     samples: int | None = None, noise_amplitude: int = 0) -> float:
    """Accuracy on one chip target through the `Chip` protocol (loads the configuration)."""
    check_task(compiled, task)
    data = split_data(task, split, samples)
    encoded = compiled.encoder.encode(data.inputs)
    chip.load(compiled.config)
    spikes = np.stack([chip.run(encoded[s], noise_amplitude=noise_amplitude, noise_seed=s).spikes
                       for s in range(len(data))])
    return float(task.accuracy(compiled.decoder.decode(spikes[:, :, compiled.decoder.neurons]), data))


def chip_spikes(compiled: CompiledNetwork, data: Dataset, chip_seed: int = 0, mismatch: MismatchLevel = 0,
                backend: str = "auto") -> np.ndarray:
    """Output-neuron spikes [S, T, K] of one chip on every sample of `data`."""
    encoded = compiled.encoder.encode(data.inputs)
    parts = [BatchedChips(compiled.config, [chip_seed] * len(encoded[lo:lo + MAX_BATCH]), mismatch, backend).run(
        encoded[lo:lo + MAX_BATCH], neurons=compiled.decoder.neurons).spikes for lo in range(0, len(data), MAX_BATCH)]
    return np.concatenate(parts)


def refit_readout(compiled: CompiledNetwork, task: Task, backend: str = "auto") -> None:
    """Replace the decoder's w_out by a ridge fit on the nominal chip's spikes on the training split
    (host-side only: the chip configuration is unchanged)."""
    train = task.train
    compiled.decoder = compiled.decoder.refit(chip_spikes(compiled, train, backend=backend), train.targets, train.mask)
    compiled.report["readout_refit"] = {"split": "train", "samples": len(train), "chip": "nominal"}


def measure(net: SpikingNetwork, compiled: CompiledNetwork, task: Task, *, chips: int = 8,
            mismatch: MismatchLevel = "spec", samples: int | None = None, backend: str = "auto",
            refit: bool = False) -> dict:
    """Test accuracy of the float network, the nominal chip and `chips` virtual chips (seeds
    0..chips-1) at `mismatch`; with `refit`, first re-fit the readout on the nominal chip."""
    def nominal() -> float:
        return float(evaluate_batched(compiled, task, mismatch=0, backend=backend, samples=samples)[0])

    record = {"split": "test", "samples": len(split_data(task, "test", samples)), "refit": refit,
              "float": evaluate_float(net, task, samples=samples, backend=backend), "nominal_before_refit": None}
    if refit:
        record["nominal_before_refit"] = nominal()
        refit_readout(compiled, task, backend)
    record["nominal"] = nominal()
    if chips:
        per_chip = evaluate_batched(compiled, task, chip_seeds=range(chips), mismatch=mismatch, backend=backend,
                                    samples=samples)
        record["chips"] = {"mismatch": str(mismatch), "seeds": list(range(chips)), "per_chip": per_chip.tolist(),
                           "median": float(np.median(per_chip)), "min": float(per_chip.min()),
                           "max": float(per_chip.max())}
    return record

