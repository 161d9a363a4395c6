"""The paper's perturbation protocol on float networks, vectorised over draws.

A `Perturbation` is applied to a `sim.lif.LIFParams` holding D copies of one network
(one per draw), in place, then `sim.lif.simulate` runs every draw on the test set:

- **quantisation** to `bits` bits, first (the chip stores programmed weights): per
  matrix (`w_in`, `w_fast`, `w_slow` separately), uniform and symmetric,
  `q = round(w / Δ) · Δ` with `Δ = max|w| / (2^(bits−1) − 1)`, so at most `2^bits − 1`
  levels including 0. Deterministic.
- **mismatch** σ: every element of `tau_mem`, `tau_slow`, `v_th`, `w_in`, `w_fast` and
  `w_slow` is multiplied by `max(1 + σ·z, 0.05)`, z ~ N(0, 1) independently per element
  and per draw (Gaussian multiplicative; the floor keeps time constants and thresholds
  positive and stops a weight from changing sign, which a chip's synapse type fixes; it
  binds only for z < −0.95/σ, i.e. with probability < 1e-3 at σ ≤ 30 %). Not perturbed:
  `tau_fast`, `v_rest`, `bias` (the paper's list) and the readout `w_out`, which runs
  on the host, not on the chip.
- **membrane noise**: Gaussian current noise of standard deviation `noise_std` (same
  units as `bias` and `v_th`, one independent sample per neuron per 1 ms step), added
  to the input current by `sim.lif.simulate`.
- **neuron death**: exactly `round(death · N)` neurons, chosen per draw, are silenced
  (`alive = 0`).

Random numbers come from a host NumPy generator, so NumPy and CuPy see the same draws.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from sim.backend import Backend, get_backend
from sim.lif import LIFParams, lif_params, simulate
from sim.network import SpikingNetwork
from sim.tasks.base import Dataset, Task

MISMATCH_FLOOR = 0.05
MISMATCH_FIELDS = ("tau_mem", "tau_slow", "v_th", "w_in", "w_fast", "w_slow")
QUANTISED_FIELDS = ("w_in", "w_fast", "w_slow")
TRIAL_BYTES = 256 * 2**20  # budget for one simulate call's input drive [D, S, T, N]


@dataclass(frozen=True)
class Perturbation:
    """One column of the robustness table; the defaults perturb nothing."""

    mismatch: float = 0.0
    bits: int | None = None
    noise_std: float = 0.0
    death: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.mismatch < 1.0:
            raise ValueError(f"mismatch must be a fraction in [0, 1), got {self.mismatch}")
        if self.bits is not None and not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be between 2 and 16, got {self.bits}")
        if self.noise_std < 0.0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")
        if not 0.0 <= self.death < 1.0:
            raise ValueError(f"death must be a fraction in [0, 1), got {self.death}")

    @property
    def stochastic(self) -> bool:
        """False when every draw is identical (only quantisation, or nothing)."""
        return self.mismatch > 0 or self.noise_std > 0 or self.death > 0

    @property
    def label(self) -> str:
        parts = []
        if self.bits is not None:
            parts.append(f"{self.bits} bit")
        if self.mismatch > 0 or not (parts or self.stochastic):
            parts.append(f"mismatch {self.mismatch * 100:g}%")
        if self.noise_std > 0:
            parts.append(f"noise {self.noise_std:g}")
        if self.death > 0:
            parts.append(f"death {self.death * 100:g}%")
        return ", ".join(parts)


DEFAULT_COLUMNS: tuple[Perturbation, ...] = (
    *(Perturbation(mismatch=m) for m in (0.0, 0.05, 0.1, 0.2, 0.3)),
    *(Perturbation(bits=b) for b in (2, 3, 4, 5, 6)),
    *(Perturbation(noise_std=s) for s in (0.1, 0.3, 1.0)),
    Perturbation(death=0.4),
)


def quantise(w: Any, bits: int, xp: Any) -> Any:
    """Uniform symmetric quantisation of each matrix in the stack `w` [D, a, b]."""
    steps = 2 ** (bits - 1) - 1
    scale = xp.max(xp.abs(w), axis=(-2, -1), keepdims=True) / steps
    scale = xp.where(scale > 0, scale, 1.0)
    return xp.round(w / scale) * scale


def apply_perturbation(params: LIFParams, p: Perturbation, rng: np.random.Generator,
                       backend: Backend | str = "numpy") -> None:
    """Perturb every draw of `params` in place (quantise, then mismatch, then death)."""
    xp = get_backend(backend).xp
    if p.bits is not None:
        for name in QUANTISED_FIELDS:
            setattr(params, name, quantise(getattr(params, name), p.bits, xp))
    if p.mismatch > 0:
        for name in MISMATCH_FIELDS:
            a = getattr(params, name)
            factor = np.maximum(1.0 + p.mismatch * rng.standard_normal(a.shape), MISMATCH_FLOOR)
            setattr(params, name, a * xp.asarray(factor, dtype=a.dtype))
    if p.death > 0:
        d, _, n = params.alive.shape
        alive = np.ones((d, 1, n))
        n_dead = int(round(p.death * n))
        for k in range(d):
            alive[k, 0, rng.permutation(n)[:n_dead]] = 0.0
        params.alive = xp.asarray(alive, dtype=params.alive.dtype)


def _chunk_sizes(net: SpikingNetwork, n_steps: int, n_samples: int, draws: int) -> tuple[int, int]:
    """Draws and samples per simulate call, keeping the input drive within TRIAL_BYTES."""
    trials = max(1, TRIAL_BYTES // (4 * n_steps * net.n_neurons))
    samples = min(n_samples, trials)
    return max(1, min(draws, trials // samples)), samples


def evaluate(net: SpikingNetwork, task: Task, p: Perturbation = Perturbation(), *, draws: int = 1,
             seed: int = 0, backend: Backend | str = "numpy", data: Dataset | None = None) -> np.ndarray:
    """Accuracy of each of `draws` perturbed copies of `net` on `data` (default: the test split).

    Draws of a deterministic perturbation are identical, so it is simulated once and
    repeated. Returns a NumPy vector [draws].
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if net.n_in != task.n_in or net.n_out != task.n_out:
        raise ValueError(f"network has {net.n_in} inputs and {net.n_out} outputs, task {task.name!r} "
                         f"needs {task.n_in} and {task.n_out}")
    be = get_backend(backend)
    data = task.test if data is None else data
    todo = draws if p.stochastic else 1
    per_call, per_sample = _chunk_sizes(net, data.inputs.shape[1], len(data), todo)
    seeds = np.random.SeedSequence(seed).spawn(todo)
    accuracies = []
    for first in range(0, todo, per_call):
        d = min(per_call, todo - first)
        params = lif_params(net, be, draws=d)
        apply_perturbation(params, p, np.random.default_rng(seeds[first]), be)
        outputs = [be.to_numpy(simulate(params, data.inputs[s:s + per_sample], be, noise_std=p.noise_std,
                                        seed=int(seeds[first].generate_state(1)[0]) + s).outputs)
                   for s in range(0, len(data), per_sample)]
        accuracies.append(np.atleast_1d(task.accuracy(np.concatenate(outputs, axis=1), data)))
    acc = np.concatenate(accuracies)
    return acc if p.stochastic else np.repeat(acc, draws)


def nominal_accuracy(net: SpikingNetwork, task: Task, backend: Backend | str = "numpy") -> float:
    """Unperturbed accuracy of `net` on the task's test split."""
    return float(evaluate(net, task, backend=backend)[0])


def summarise(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Median and quartiles of accuracies."""
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "n": int(np.size(values))}


def robustness_table(nets: Sequence[SpikingNetwork], task: Task, *,
                     columns: Sequence[Perturbation] = DEFAULT_COLUMNS, draws: int = 20, seed: int = 0,
                     backend: Backend | str = "numpy",
                     progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Accuracies of every network under every perturbation, grouped by `meta["method"]`.

    Returns {"columns": labels, "draws": D, "methods": {method: {label: summary}},
    "networks": [{"method", "seed", "accuracies": {label: [D values]}}]}; summaries pool
    networks × draws of one method.
    """
    labels = [p.label for p in columns]
    records = []
    for i, net in enumerate(nets):
        acc = {}
        for j, p in enumerate(columns):
            acc[p.label] = evaluate(net, task, p, draws=draws, seed=seed + 1000 * j, backend=backend).tolist()
            if progress is not None:
                progress({"network": i, "column": p.label, "median": float(np.median(acc[p.label]))})
        records.append({"method": str(net.meta.get("method", "unknown")), "seed": net.meta.get("seed"),
                        "accuracies": acc})
    methods: dict[str, dict[str, dict[str, float]]] = {}
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method]
        methods[method] = {label: summarise(np.concatenate([r["accuracies"][label] for r in mine]))
                           for label in labels}
    return {"columns": labels, "draws": draws, "task": task.name, "n_test": len(task.test),
            "methods": methods, "networks": records}


def format_table(table: dict[str, Any]) -> str:
    """Plain-text table: one row per method, `median [q25–q75]` in % per column."""
    labels = table["columns"]
    width = max(8, *(len(m) for m in table["methods"]))
    cells = {m: [f"{s[lab]['median'] * 100:.0f} [{s[lab]['q25'] * 100:.0f}-{s[lab]['q75'] * 100:.0f}]"
                 for lab in labels] for m, s in table["methods"].items()}
    col_w = [max(len(lab), *(len(c[k]) for c in cells.values())) for k, lab in enumerate(labels)]
    lines = ["method".ljust(width) + "  " + "  ".join(lab.rjust(w) for lab, w in zip(labels, col_w))]
    for method, row in cells.items():
        lines.append(method.ljust(width) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, col_w)))
    return "\n".join(lines)
