"""Redundant replicas on one chip (docs/fidelity.md 5.7): a trained network compiled with R
copies (`compile_network(..., replicas=R)`), judged on virtual chips as in section 5.4.

    python bench/replicas.py NET.npz [--replicas 1 3] [--chips 64] [--mismatch spec] [--samples 32] [--json FILE]

Per R: the readout re-fitted on the nominal chip over all R copies' neurons (`refit_readout`,
as `harness compile`), uncalibrated and calibrated (8 trials) accuracy on chips 0..N-1 at
--mismatch with `harness.deploy.evaluate_deployments` (class-balanced test samples; yield =
chips at accuracy >= 75 %), the nominal chip's accuracy, and the power model's energy per
inference from the chips' mean activity (`harness.energy.energy_per_inference`). For R > 1
also, from one more run of the same chips: each copy with its own readout re-fitted on the
nominal chip (a single copy), the mean of those R readouts' outputs ("mean of copies"), the
majority of their R decisions ("majority of copies"), and the correlation over chips of the
single copies' accuracies (independent errors: near 0).
Prints one line per R; --json appends one record per R to FILE.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from chip_yield import cell
from drivers.population import SimulatedPopulation
from harness.compiler import CompiledNetwork, compile_network
from harness.compiler.decoding import Decoder
from harness.deploy import (evaluate_batched, evaluate_deployments, population_spikes, refit_readout, split_data,
                            task_for)
from harness.energy import energy_per_inference
from sim.chip.activity import COUNTERS
from sim.netfile import load_network
from sim.tasks.base import Task

GROUP = 8  # chips per extra run (bounds memory: chips x samples x T x neurons)


def copy_readouts(compiled: CompiledNetwork, task: Task, replicas: int, backend: str) -> list[Decoder]:
    """Each copy's readout re-fitted on the nominal chip's training spikes of its own neurons."""
    train = task.train
    spikes = population_spikes(compiled, compiled.encoder.encode(train.inputs), [0],
                               np.arange(len(train), dtype=np.uint64), SimulatedPopulation(0, backend))[0]
    per_copy = len(compiled.decoder.neurons) // replicas
    decoders = []
    for r in range(replicas):
        cols = slice(r * per_copy, (r + 1) * per_copy)
        single = Decoder(compiled.decoder.neurons[cols], compiled.decoder.w_out[cols], compiled.decoder.tau_out)
        decoders.append(single.refit(spikes[..., cols], train.targets, train.mask))
    return decoders


def copies_on_chips(compiled: CompiledNetwork, task: Task, decoders: list[Decoder], chips: range, mismatch,
                    samples: int, backend: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy of each single copy [R, chips], of the mean of the copies' outputs [chips] and
    of the majority of the copies' decisions [chips] (ties: the smallest label)."""
    data = split_data(task, "test", samples)
    encoded = compiled.encoder.encode(data.inputs)
    population = SimulatedPopulation(mismatch, backend)
    per_copy = len(decoders[0].neurons)
    single, mean, vote = [], [], []
    for first in range(chips.start, chips.stop, GROUP):
        group = list(range(first, min(first + GROUP, chips.stop)))
        spikes = population_spikes(compiled, encoded, group, np.arange(len(data), dtype=np.uint64), population)
        for chip in spikes.astype(np.float64):
            outputs = [d.decode(chip[..., r * per_copy:(r + 1) * per_copy]) for r, d in enumerate(decoders)]
            single.append([task.accuracy(y, data) for y in outputs])
            mean.append(task.accuracy(np.mean(outputs, axis=0), data))
            decisions = np.stack([task.decide(y, data) for y in outputs])  # [R, samples]
            counts = np.stack([(decisions == c).sum(0) for c in range(task.n_classes)])
            vote.append(float((counts.argmax(0) == data.labels).mean()))
    return np.array(single).T, np.array(mean), np.array(vote)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("net")
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--chips", type=int, default=64)
    ap.add_argument("--mismatch", default="spec")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    mismatch = args.mismatch if args.mismatch == "spec" else float(args.mismatch)
    net = load_network(args.net)
    task = task_for(net.meta)
    chips = range(args.chips)
    steps = split_data(task, "test", args.samples).inputs.shape[1]
    for replicas in args.replicas:
        compiled = refit_readout(compile_network(net, "dynapse1", task.train.inputs, replicas=replicas), task,
                                 args.backend)
        nominal = float(evaluate_batched(compiled, task, mismatch=0, backend=args.backend, samples=args.samples)[0])
        result = evaluate_deployments(compiled, task, chip_seeds=chips, mismatch=mismatch, samples=args.samples,
                                      trials=(0, 8), backend=args.backend)
        energy = energy_per_inference(compiled.config, {k: float(np.mean(result[k])) for k in COUNTERS}, steps)
        record = {"net": args.net, "replicas": replicas, "mismatch": args.mismatch, "chips": args.chips,
                  "nominal": nominal, "uncalibrated": result[0].tolist(), "calibrated": result[8].tolist(),
                  "energy_j": energy["total_j"], "dynamic_j": energy["dynamic_j"]}
        line = (f"{args.net} R={replicas} {args.mismatch}: nominal {100 * nominal:.1f} %, uncalibrated "
                f"{cell(result[0])}, calibrated {cell(result[8])}, energy {1e6 * energy['total_j']:.3f} uJ "
                f"(dynamic {1e6 * energy['dynamic_j']:.3f})")
        if replicas > 1:
            decoders = copy_readouts(compiled, task, replicas, args.backend)
            single, mean, vote = copies_on_chips(compiled, task, decoders, chips, mismatch, args.samples,
                                                 args.backend)
            corr = np.corrcoef(single)[np.triu_indices(replicas, 1)]
            record.update(single=single.tolist(), mean_of_copies=mean.tolist(), majority=vote.tolist(),
                          correlation=corr.tolist())
            line += (f"; mean of copies {cell(mean)}; majority of copies {cell(vote)}; single copies "
                     f"{', '.join(cell(s) for s in single)}; accuracy correlation between copies "
                     f"{', '.join(f'{c:.2f}' for c in corr)}")
        print(line, flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
