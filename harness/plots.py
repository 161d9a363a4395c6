"""PNG plots of a run's verdicts (matplotlib, Agg backend: no display needed).

- `accuracy_vs_mismatch.png`: per network, the median chip accuracy against the mismatch
  level, with the interquartile band and the min–max range;
- `yield.png`: one panel per suite, yield against the swept condition per network, with
  the yield threshold;
- `accuracy_hist.png`: per network, the per-chip accuracy histogram at each suite's first
  asserted condition, with the accuracy spec.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.results import RunDir  # noqa: E402
from sim.atomic import write_atomic  # noqa: E402
from sim.chip.mismatch import resolve_cv  # noqa: E402
from sim.chip.spec import load_spec  # noqa: E402

SUITE_AXES = {"mismatch_yield": "mismatch level (cv)", "quantisation": "weight bits",
              "noise": "noise amplitude / threshold", "neuron_failure": "fraction of neurons disabled",
              "supply_sweep": "supply voltage (V)"}


def numeric(verdict: dict[str, Any]) -> float:
    """The condition as a number; mismatch 'spec' is placed at the mean of the spec's cv."""
    value = verdict["condition_value"]
    if isinstance(value, str):
        cv = resolve_cv(value, load_spec(verdict["spec"]))
        return sum(cv.values()) / len(cv)
    return float(value)


def by_network(verdicts: list[dict[str, Any]], suite: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in verdicts:
        if v.get("suite") == suite:
            groups[v["network"]].append(v)
    return {k: sorted(vs, key=numeric) for k, vs in groups.items()}


def plot_accuracy_vs_mismatch(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    groups = by_network(verdicts, "mismatch_yield")
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for network, vs in groups.items():
        x = [numeric(v) for v in vs]
        acc = [v["accuracy"] for v in vs]
        line, = ax.plot(x, [a["median"] for a in acc], marker="o", label=f"{network} (median)")
        ax.fill_between(x, [a["q25"] for a in acc], [a["q75"] for a in acc], color=line.get_color(), alpha=0.3)
        ax.fill_between(x, [a["min"] for a in acc], [a["max"] for a in acc], color=line.get_color(), alpha=0.1)
        for v, xi in zip(vs, x):
            if isinstance(v["condition_value"], str):
                ax.annotate(v["condition_value"], (xi, v["accuracy"]["median"]), textcoords="offset points",
                            xytext=(4, 6), fontsize=8)
    spec = vs[0]["accuracy_spec"]
    ax.axhline(spec, color="k", linestyle="--", linewidth=1, label=f"accuracy spec {spec:g}")
    ax.set(xlabel="mismatch level (cv)", ylabel="test accuracy per chip", ylim=(0, 1.02),
           title=f"Accuracy vs mismatch ({len(vs[0]['chip_seeds'])} chips; band IQR, light min-max)")
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_yield(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    suites = [s for s in SUITE_AXES if by_network(verdicts, s)]
    if not suites:
        return None
    fig, axes = plt.subplots(1, len(suites), figsize=(3.6 * len(suites), 3.6), squeeze=False, sharey=True)
    for ax, suite in zip(axes[0], suites):
        for network, vs in by_network(verdicts, suite).items():
            ax.plot([numeric(v) for v in vs], [v["yield"]["value"] for v in vs], marker="o", label=network)
        threshold = vs[0]["yield_threshold"]
        ax.axhline(threshold, color="k", linestyle="--", linewidth=1, label=f"yield threshold {threshold:g}")
        ax.set(xlabel=SUITE_AXES[suite], title=suite, ylim=(-0.02, 1.02))
    axes[0][0].set_ylabel("yield (chips meeting the accuracy spec)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.suptitle("Yield per suite")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, path, layout=False)


def plot_histograms(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    chosen = {}
    for v in verdicts:
        key = (v["network"], v["suite"])
        if v.get("asserted") and key not in chosen:
            chosen[key] = v
    if not chosen:
        return None
    networks = sorted({n for n, _ in chosen})
    fig, axes = plt.subplots(len(networks), 1, figsize=(6.4, 2.8 * len(networks)), squeeze=False)
    bins = [i / 20 for i in range(21)]
    for ax, network in zip(axes[:, 0], networks):
        for (n, suite), v in sorted(chosen.items()):
            if n == network:
                ax.hist(v["accuracies"], bins=bins, alpha=0.5, label=f"{suite} {v['condition']}")
        spec = next(v for (n, _), v in chosen.items() if n == network)["accuracy_spec"]
        ax.axvline(spec, color="k", linestyle="--", linewidth=1, label=f"accuracy spec {spec:g}")
        ax.set(xlabel="test accuracy", ylabel="chips", title=f"Per-chip accuracy: {network}", xlim=(0, 1))
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def plot_all(run: RunDir) -> list[Path]:
    """Every plot of the run that has data; returns the written paths."""
    verdicts = run.verdicts()
    folder = run.subdir("plots")
    made = [plot_accuracy_vs_mismatch(verdicts, folder / "accuracy_vs_mismatch.png"),
            plot_yield(verdicts, folder / "yield.png"),
            plot_histograms(verdicts, folder / "accuracy_hist.png")]
    return [p for p in made if p is not None]


def _save(fig: Any, path: Path, layout: bool = True) -> Path:
    """Save atomically (temporary file in the same folder, then rename)."""
    if layout:
        fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path
