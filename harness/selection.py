"""Choosing among candidate networks on sampled compiled chips (issue 20; docs/fidelity.md 5.6).

Training runs of one task differ far more in how they survive a chip's mismatch than any
training variant tried, so `select_network` trains N candidates for one task and seed and
keeps the one that does best on virtual chips:

- Candidate 0 is the network `seed` alone gives (N = 1 is plain training); candidate k >= 1
  trains with the seed `candidate_seeds` draws from `numpy.random.SeedSequence((seed, k))`,
  so two seeds never share candidates. The task data stay those of `seed`. ADS candidates
  share the rate teacher trained with `seed` and differ in the ADS stage (encoder, minibatch
  order); other methods train from their candidate seed.
- Each candidate is compiled and its readout re-fitted as the deployment does
  (`compile_candidate`; by default `compile_as_deployed`: `harness.readout_fit.compile_for_chip`
  with the readout `harness compile` fits by default, the guarded shared readout), then run
  uncalibrated on `selection_chips` virtual chips sampled at `mismatch`
  (`drivers.population.SimulatedPopulation`) on class-balanced trials of the VALIDATION split.
  Its score is (mean + lower quartile) / 2 of those chips' accuracies: the mean for the typical
  chip, the quartile for the tail that yield counts. The best score wins (ties: the lower k).
- Candidates are trained and scored concurrently, on up to one thread more than the usable
  cores (`sim.concurrency`; the kernels release the GIL): the same networks and
  scores as one after another, since each candidate draws only from its own seeds. Only
  candidate 0 reports its training progress; every candidate reports its score ("select").
  When the selection ends early (an error, Ctrl-C), the other candidates stop at their next
  training report.
- Selection chips have seeds from SELECTION_SEED_BASE = 2**62 up, far from the chips runs
  judge (seed .. seed + chips - 1; docs' tables 0..63) and from the shared readout's fitting
  chips (`harness.shared_readout.SEED_BASE` = 2**31 up); where `judged` chips would overlap
  them they move past those (`sampled_seeds`). No judged chip and no test trial is ever used.

The chosen network's meta["selection"] records every candidate's seed, chip accuracies and
score, the chosen index and the selection chips (`chip_seeds`: the first seed and one past the
last).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from harness.compiler import CompiledNetwork
from harness.deploy import evaluate_batched
from harness.run_config import DEFAULT_READOUT, default_readout
from harness.readout_fit import ReadoutFit, compile_for_chip
from harness.shared_readout import sampled_seeds
from sim.chip.mismatch import MismatchLevel
from sim.chip.spec import ChipSpec, load_spec
from sim.concurrency import share_cores, worker_threads
from sim.network import SpikingNetwork
from sim.tasks.base import Task

if TYPE_CHECKING:
    from sim.teacher import TeacherParams

SELECTION_SEED_BASE = 2**62  # selection chip k has seed SELECTION_SEED_BASE + k unless judged chips are there
SELECTION_CHIPS = 16  # sampled chips each candidate is scored on
SELECTION_SAMPLES = 64  # class-balanced validation trials per chip (at most the split's size)
# (task, method) -> candidates by default where more than 1. None now: with the rate-normalised readout one XOR ADS
# network does as well as the best of 3 (docs/fidelity.md 5.13: 89.1 % / 100 % uncalibrated / calibrated over six
# seeds either way; 5.6-5.9 had made it 3 with the plain readout), and keyword's candidates never helped (5.10)
DEFAULT_CANDIDATES: dict[tuple[str, str], int] = {}
Progress = Callable[[dict], None]


class SelectionStopped(Exception):
    """A candidate's training was stopped because the selection ended (an error or Ctrl-C elsewhere)."""


def default_candidates(task: str, method: str) -> int:
    """How many candidates `harness train` and a run's "auto" train for `method` on `task`."""
    return DEFAULT_CANDIDATES.get((task, method), 1)


def candidate_seeds(seed: int, candidates: int) -> list[int]:
    """Training seeds of `candidates` candidates: `seed` itself, then one 62-bit seed per
    candidate k >= 1 from SeedSequence((seed, k)), at least 2**32 (never a plain small seed)."""
    if candidates < 1:
        raise ValueError(f"candidates must be >= 1, got {candidates}")
    drawn = [int(np.random.SeedSequence((seed, k)).generate_state(1, np.uint64)[0]) >> 2 for k in range(1, candidates)]
    return [seed] + [2**32 + s for s in drawn]


def selection_seeds(chips: int, judged: range = range(0)) -> list[int]:
    """The chip seeds candidates are scored on (see module doc); none among `judged`."""
    if chips < 1:
        raise ValueError(f"selection chips must be >= 1, got {chips}")
    return sampled_seeds(chips, judged, base=SELECTION_SEED_BASE)


def chip_score(accuracies: np.ndarray) -> float:
    """(mean + lower quartile) / 2 of the chips' accuracies."""
    return float((np.mean(accuracies) + np.percentile(accuracies, 25)) / 2)


def compile_as_deployed(spec: str | ChipSpec, backend: str = "auto", readout: ReadoutFit = ReadoutFit(DEFAULT_READOUT),
                        replicas: int = 1) -> Callable[[SpikingNetwork, Task], CompiledNetwork]:
    """Compile for `spec` with `replicas` copies and re-fit the readout as `readout` says
    (by default as `harness compile` does)."""
    return lambda net, task: compile_for_chip(net, spec, task, backend=backend, readout=readout, replicas=replicas)


def select_network(method: str, task: Task, *, candidates: int, seed: int = 0, selection_chips: int = SELECTION_CHIPS,
                   mismatch: MismatchLevel = "spec", judged: range = range(0), spec: str | ChipSpec = "dynapse1",
                   compile_candidate: Callable[[SpikingNetwork, Task], CompiledNetwork] | None = None,
                   backend: str = "auto", progress: Progress | None = None, **training: Any) -> SpikingNetwork:
    """The best of `candidates` networks trained with `method` on `task` (`sim.methods.train`
    with `training`'s options), scored uncalibrated on `selection_chips` sampled `spec` chips (module doc).
    candidates = 1 trains one network and compiles nothing."""
    from sim.methods import train  # noqa: PLC0415 - the training stack loads on demand
    seeds = candidate_seeds(seed, candidates)
    if candidates == 1:
        return train(method, task, seed=seed, backend=backend, progress=progress, **training)
    chip_seeds = selection_seeds(selection_chips, judged)
    samples = min(SELECTION_SAMPLES, len(task.val) - len(task.val) % task.n_classes)
    compile_candidate = compile_candidate or compile_as_deployed(spec, backend, ReadoutFit(default_readout(method)))
    if method == "ads" and "teacher" not in training:
        teacher = shared_teacher(task, seed, backend, progress, training.get("teacher_epochs"))
        training = {**training, "teacher": teacher}

    stopped = threading.Event()  # set when the selection ends early: running candidates stop at their next report
    workers = worker_threads(candidates)

    def scored(k: int, candidate_seed: int) -> tuple[SpikingNetwork, np.ndarray]:
        share_cores(workers)

        def report(update: dict) -> None:
            if stopped.is_set():
                raise SelectionStopped(f"candidate {k} stopped: the selection ended")
            if k == 0 and progress is not None:
                progress(update)

        net = train(method, task, seed=candidate_seed, backend=backend, progress=report, **training)
        compiled = compile_candidate(net, task)
        return net, evaluate_batched(compiled, task, split="val", chip_seeds=chip_seeds, mismatch=mismatch,
                                     backend=backend, samples=samples)

    nets, accuracies = [], []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="candidate")
    try:
        for k, job in enumerate([pool.submit(scored, k, s) for k, s in enumerate(seeds)]):
            net, chip_accuracies = job.result()
            nets.append(net)
            accuracies.append(chip_accuracies)
            if progress is not None:
                progress({"stage": "select", "step": k + 1, "total": candidates, "score": chip_score(chip_accuracies)})
    finally:  # on an error or Ctrl-C: candidates not started never start, running ones stop
        stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)
    scores = [chip_score(a) for a in accuracies]
    chosen = int(np.argmax(scores))
    net = nets[chosen]
    net.meta.update(seed=seed, selection={
        "candidates": candidates, "chosen": chosen, "candidate_seeds": seeds, "scores": scores,
        "chip_accuracies": [a.tolist() for a in accuracies], "score": "(mean + lower quartile) / 2",
        "chip_seeds": [chip_seeds[0], chip_seeds[-1] + 1], "spec": load_spec(spec).name, "mismatch": str(mismatch),
        "split": "val", "samples": samples, "teacher_seed": seed if method == "ads" else None})
    return net


def shared_teacher(task: Task, seed: int, backend: str = "auto", progress: Progress | None = None,
                   epochs: int | None = None) -> TeacherParams:
    """The rate teacher ADS trains with `seed`, trained once for all candidates."""
    from sim.backend import get_backend  # noqa: PLC0415
    from sim.teacher import teacher_config, train_teacher  # noqa: PLC0415
    return train_teacher(task, teacher_config(task.name, epochs=epochs), seed, get_backend(backend), progress)
