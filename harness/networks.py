"""Networks a run deploys: train or reuse a cached one, compile it, keep both in the run directory.

A trained network is cached under `<cache>/networks/`, keyed by task, method, seed and
sizes, so a second run (or a fresh run directory) reuses it. With `candidates` > 1 (run
configuration; `harness.selection`) the network is the best of that many candidates,
compiled as the run deploys them (readout, replicas), on chips sampled at the run's mismatch
that the run does not judge, and the key names them too. Compiled configurations live
in the run directory's `compiled/` and are reused when present. The readout is re-fitted
after compiling, on the nominal chip or (run configuration `readout = "shared"`) across
sampled chips that the run does not judge (`harness.shared_readout`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.compiler import CompiledNetwork
from harness.results import RunDir
from harness.readout_fit import ReadoutFit, compile_for_chip
from harness.selection import compile_as_deployed, default_candidates, select_network
from harness.run_config import TASK_SIZES, RunConfig, default_readout
from sim.atomic import write_atomic
from sim.chip.spec import ChipSpec, load_spec
from sim.netfile import load_network, save_network
from sim.network import SpikingNetwork
from sim.tasks.base import Task

CACHE_VERSION = 4  # 2: ADS fast_gain 0.25 and ridge readout; 3: XOR ADS trained within the fan-in; 4: XOR ADS best of 3
Progress = Callable[[dict], None]


NETWORK_FILES = (".nir", ".npz")  # a "method" that is a network file from elsewhere


def task_name(task: str) -> str:
    """A short name for a task given by name or as a path to a data set."""
    return Path(task).stem if task.endswith(".npz") else task


def method_name(method: str) -> str:
    """A short name for a training method or a network file (its stem)."""
    return Path(method).stem if method.endswith(NETWORK_FILES) else method


def network_key(task: str, method: str, spec: str) -> str:
    """The name of one deployed network in file names, records and test ids."""
    return f"{task_name(task)}-{method_name(method)}-{Path(spec).stem}"


def load_run_task(config: RunConfig, task: str) -> Task:
    """The task at the run's seed and sizes (training sizes are not task sizes)."""
    from sim.tasks.registry import load_task  # noqa: PLC0415 - training stack loads on demand
    sizes = {k: v for k, v in config.sizes.items() if k in TASK_SIZES}
    return load_task(task, seed=config.seed, **sizes)


def run_candidates(config: RunConfig, task: str, method: str) -> int:
    """Candidates the run trains for (task, method): configuration `candidates`, "auto" the task's default."""
    return default_candidates(task_name(task), method) if config.candidates == "auto" else int(config.candidates)


def run_readout(config: RunConfig, method: str) -> ReadoutFit:
    """Where the run re-fits the readouts of networks `method` trained: as configured ("auto":
    the method's default), at its mismatch, never on the chips it judges."""
    where = default_readout(method) if config.readout == "auto" else config.readout
    return ReadoutFit(where, config.mismatch, range(config.seed, config.seed + config.chips))


def cache_path(config: RunConfig, task: str, method: str) -> Path:
    """Where the network trained for (task, method, seed, sizes) is cached."""
    key = {"version": CACHE_VERSION, "task": task, "method": method, "seed": config.seed,
           "sizes": dict(sorted(config.sizes.items()))}
    candidates = run_candidates(config, task, method)
    if candidates > 1:  # chosen on sampled chips of the first spec at the run's mismatch and readout
        readout = run_readout(config, method)
        judged = readout.judged
        key.update(candidates=candidates, spec=config.specs[0], mismatch=config.mismatch, readout=readout.where,
                   replicas=config.replicas, judged=[judged.start, judged.stop])
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return config.cache_dir / "networks" / f"{task_name(task)}-{method}-s{config.seed}-{digest}.npz"


def trained_network(config: RunConfig, task: Task, task_id: str, method: str,
                    progress: Progress | None = None) -> tuple[SpikingNetwork, bool]:
    """(network, reused): the cached network, or a newly trained one (the best of the run's
    candidates on sampled chips that the run does not judge, `harness.selection`) that is then cached."""
    path = cache_path(config, task_id, method)
    if path.is_file():
        return load_network(path), True
    spec, readout = load_spec(config.specs[0]), run_readout(config, method)
    net = select_network(method, task, candidates=run_candidates(config, task_id, method), seed=config.seed,
                         mismatch=config.mismatch, judged=readout.judged, spec=spec, backend=config.backend,
                         compile_candidate=compile_as_deployed(spec, config.backend, readout, config.replicas),
                         progress=progress, n_neurons=config.sizes.get("n_neurons"), epochs=config.sizes.get("epochs"))
    save_network(net, path)
    return net, False


def given_network(config: RunConfig, path: str, task: Task) -> SpikingNetwork:
    """A network file from elsewhere: a NIR graph imported with the run's dt and conventions
    (its metrics: the graph's own float test accuracy on `task`), or a saved network."""
    if not path.endswith(".nir"):
        return load_network(path)
    from sim.nir import import_nir, simulate_network  # noqa: PLC0415 - NIR support loads on demand
    net = import_nir(path, config.dt, config.reset, config.convention)
    outputs = simulate_network(net, task.test.inputs).outputs
    net.meta["metrics"] = {"test_accuracy": float(task.accuracy(outputs, task.test))}
    return net


def compiled_fingerprint(compiled: CompiledNetwork) -> str:
    """A digest of what a chip runs and how the host reads it (stable across saves)."""
    h = hashlib.sha256()
    for name in ("cam_source", "cam_type", "dmem", "theta", "idc", "t_ref", "dsyn", "wsyn", "enabled"):
        h.update(np.ascontiguousarray(getattr(compiled.config, name)).tobytes())
    h.update(json.dumps([compiled.config.spec.to_dict(), compiled.encoder.to_dict(), compiled.decoder.to_dict()],
                        sort_keys=True).encode())
    return h.hexdigest()[:16]


@dataclass
class Deployment:
    """A trained network, its task, and its compiled configuration for one chip spec."""

    key: str
    task: Task
    network: SpikingNetwork
    spec: ChipSpec
    compiled: CompiledNetwork
    run: RunDir
    readout: ReadoutFit = field(default_factory=ReadoutFit)
    _variants: dict[int, CompiledNetwork] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return compiled_fingerprint(self.compiled)

    def with_weight_bits(self, bits: int) -> CompiledNetwork:
        """The network compiled with CAM weights capped at 2**(bits-1) - 1 (cached in compiled/)."""
        if bits not in self._variants:
            path = self.run.subdir("compiled") / f"{self.key}-w{bits}.npz"
            self._variants[bits] = _compiled(path, lambda: compile_for_chip(
                self.network, self.spec, self.task, weight_bits=bits, readout=self.readout,
                replicas=self.compiled.report.get("replicas", 1)))
        return self._variants[bits]


def _compiled(path: Path, make: Callable[[], CompiledNetwork]) -> CompiledNetwork:
    if path.is_file():
        return CompiledNetwork.load(path)
    compiled = make()
    compiled.save(path)
    return compiled


def deploy(config: RunConfig, run: RunDir, task_id: str, method: str, spec_name: str,
           progress: Progress | None = None) -> tuple[Deployment, dict[str, Any]]:
    """Train (or reuse) and compile one network; returns it and what happened, for the log."""
    key = network_key(task_id, method, spec_name)
    task = load_run_task(config, task_id)
    spec = load_spec(spec_name)
    net_path = run.subdir("networks") / f"{task_name(task_id)}-{method_name(method)}.npz"
    if net_path.is_file():
        net, source = load_network(net_path), "run directory"
    elif method.endswith(NETWORK_FILES):
        net, source = given_network(config, method, task), f"imported from {method}"
        save_network(net, net_path)
    else:
        net, reused = trained_network(config, task, task_id, method, progress)
        cached = cache_path(config, task_id, method)
        write_atomic(net_path, lambda f: f.write(cached.read_bytes()))
        source = "cache" if reused else "trained"
    readout = run_readout(config, method)
    compiled = _compiled(run.subdir("compiled") / f"{key}.npz",
                         lambda: compile_for_chip(net, spec, task, backend=config.backend, readout=readout,
                                                  replicas=config.replicas))
    deployment = Deployment(key, task, net, spec, compiled, run, readout)
    return deployment, {"key": key, "network": source, "neurons": net.n_neurons,
                        "metrics": net.meta.get("metrics", {}), "mapping": compiled.report}
