"""PNG plots of a run's verdicts (matplotlib, Agg backend: no display needed).

- `accuracy_vs_mismatch.png`: per network and deployment (calibrated solid, uncalibrated
  dashed), the median chip accuracy at each mismatch level with the interquartile band,
  the accuracy spec and chance;
- `yield.png`: one panel per suite, yield at each swept condition per network and
  deployment, with the yield threshold;
- `accuracy_hist.png`: small multiples, one panel per network and suite: the per-chip
  accuracy histogram at the suite's first asserted condition, with the spec and chance;
- `calibration_budget.png`: yield (and median accuracy) of the run's chip population
  against the number of calibration trials per chip, with the yield threshold;
- `accuracy_vs_energy.png` (when several networks ran, e.g. `--methods all`): one point per
  network and condition, median chip accuracy (judged deployment, bars IQR) against the
  model's energy per inference (bars: standard error over chips), with the Pareto front.

Conditions are placed at evenly spaced positions labelled with their values (sorted by
value; "spec" sits at the mean of the spec's per-class cv and says so), so discrete
sweeps get one tick per value and a single condition gets a readable axis.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from harness.results import RunDir  # noqa: E402
from harness.suites.catalog import SUITES  # noqa: E402
from sim.atomic import write_atomic  # noqa: E402
from sim.chip.mismatch import resolve_cv  # noqa: E402
from sim.chip.spec import load_spec  # noqa: E402


def numeric(verdict: dict[str, Any]) -> float:
    """The condition as a number for ordering; mismatch 'spec' counts as the mean of the spec's cv."""
    value = verdict["condition_value"]
    if isinstance(value, str):
        cv = resolve_cv(value, load_spec(verdict["spec"]))
        return sum(cv.values()) / len(cv)
    return float(value)


def tick_label(verdict: dict[str, Any]) -> str:
    value = verdict["condition_value"]
    if isinstance(value, str):
        return f"{value}\n(mean cv {numeric(verdict):.2f})"
    return f"{value:g}"


def by_network(verdicts: list[dict[str, Any]], suite: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in verdicts:
        if v.get("suite") == suite:
            groups[v["network"]].append(v)
    return {k: sorted(vs, key=numeric) for k, vs in groups.items()}


def _positions(groups: dict[str, list[dict[str, Any]]], ax: Any) -> dict[str, int]:
    """Evenly spaced x positions for every condition of `groups`, with labelled ticks."""
    everything = sorted({v["condition"]: v for vs in groups.values() for v in vs}.values(), key=numeric)
    ax.set_xticks(range(len(everything)), [tick_label(v) for v in everything], fontsize=8)
    ax.set_xlim(-0.5, len(everything) - 0.5)
    return {v["condition"]: i for i, v in enumerate(everything)}


def _limits(ax: Any, verdict: dict[str, Any], horizontal: bool = True) -> None:
    """The accuracy spec and the chance level as labelled lines."""
    line = ax.axhline if horizontal else ax.axvline
    line(verdict["accuracy_spec"], color="k", linestyle="--", linewidth=1,
         label=f"accuracy spec {verdict['accuracy_spec']:g}")
    line(verdict["chance"], color="grey", linestyle=":", linewidth=1.2, label=f"chance {verdict['chance']:g}")


DEPLOYMENT_STYLE = {"calibrated": "-", "uncalibrated": "--"}


def plot_accuracy_vs_mismatch(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    groups = by_network(verdicts, "mismatch_yield")
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    x_of = _positions(groups, ax)
    for network, vs in groups.items():
        x = [x_of[v["condition"]] for v in vs]
        color = None
        for deployment, style in DEPLOYMENT_STYLE.items():
            acc = [v["deployments"][deployment]["accuracy"] for v in vs]
            line, = ax.plot(x, [a["median"] for a in acc], marker="o", linestyle=style, color=color,
                            label=f"{network} {deployment} (median)")
            color = line.get_color()
            ax.fill_between(x, [a["q25"] for a in acc], [a["q75"] for a in acc], color=color,
                            alpha=0.25 if deployment == "calibrated" else 0.12)
    first = next(iter(groups.values()))[0]
    _limits(ax, first)
    ax.set(xlabel=SUITES["mismatch_yield"].axis, ylabel="test accuracy per chip", ylim=(0, 1.02),
           title=f"Accuracy vs mismatch ({len(first['chip_seeds'])} chips; bands: interquartile range)")
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_yield(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    suites = [s for s in SUITES if by_network(verdicts, s)]
    if not suites:
        return None
    fig, axes = plt.subplots(1, len(suites), figsize=(3.6 * len(suites), 3.8), squeeze=False, sharey=True)
    for ax, suite in zip(axes[0], suites):
        groups = by_network(verdicts, suite)
        x_of = _positions(groups, ax)
        for network, vs in groups.items():
            x, color = [x_of[v["condition"]] for v in vs], None
            for deployment, style in DEPLOYMENT_STYLE.items():
                line, = ax.plot(x, [v["deployments"][deployment]["yield"] for v in vs], marker="o", linestyle=style,
                                color=color, label=f"{network} {deployment}")
                color = line.get_color()
        threshold = next(iter(groups.values()))[0]["yield_threshold"]
        ax.axhline(threshold, color="k", linestyle=":", linewidth=1, label=f"yield threshold {threshold:g}")
        ax.set(xlabel=SUITES[suite].axis, title=SUITES[suite].title, ylim=(-0.02, 1.02))
    axes[0][0].set_ylabel("yield (chips meeting the accuracy spec)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.suptitle("Yield per suite, calibrated (solid) and uncalibrated (dashed)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return _save(fig, path, layout=False)


def plot_histograms(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for v in sorted(verdicts, key=numeric):
        if v.get("asserted"):
            chosen.setdefault((v["network"], v["suite"]), v)
    if not chosen:
        return None
    networks = sorted({n for n, _ in chosen})
    suites = [s for s in SUITES if any(s == k[1] for k in chosen)]
    fig, axes = plt.subplots(len(networks), len(suites), figsize=(3.2 * len(suites), 2.6 * len(networks)),
                             squeeze=False, sharex=True)
    bins = [i / 20 for i in range(21)]
    for row, network in enumerate(networks):
        for col, suite in enumerate(suites):
            ax = axes[row][col]
            v = chosen.get((network, suite))
            if v is None:
                ax.set_axis_off()
                continue
            ax.hist(v["accuracies"], bins=bins, color="tab:blue", edgecolor="white")
            _limits(ax, v, horizontal=False)
            ax.set(title=f"{SUITES[suite].title} {v['condition']}", xlim=(0, 1.02))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.title.set_fontsize(9)
            if col == 0:
                ax.set_ylabel(f"{network}\nchips", fontsize=8)
            if row == len(networks) - 1:
                ax.set_xlabel("test accuracy")
    handles, labels = next(ax for ax in axes.flat if ax.axison).get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle("Per-chip accuracy at each suite's asserted condition")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, path, layout=False)


def plot_budget(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    curves = {v["network"]: v for v in verdicts if v["reference"].get("budget_curve")}
    if not curves:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    for network, v in sorted(curves.items()):
        curve = sorted((int(k), c) for k, c in v["reference"]["budget_curve"].items())
        x = list(range(len(curve)))
        left.plot(x, [c["yield"] for _, c in curve], marker="o", label=network)
        right.plot(x, [c["accuracy"]["median"] for _, c in curve], marker="o", label=network)
        right.fill_between(x, [c["accuracy"]["q25"] for _, c in curve], [c["accuracy"]["q75"] for _, c in curve],
                           alpha=0.2)
        for ax in (left, right):
            ax.set_xticks(x, [str(k) for k, _ in curve])
    first = next(iter(curves.values()))
    left.axhline(first["yield_threshold"], color="k", linestyle="--", linewidth=1,
                 label=f"yield threshold {first['yield_threshold']:g}")
    _limits(right, first)
    left.set(xlabel="calibration trials per chip (0 = uncalibrated)", ylabel="yield", ylim=(-0.02, 1.02),
             title=f"Yield vs calibration budget ({first['reference']['condition']})")
    right.set(xlabel="calibration trials per chip (0 = uncalibrated)", ylabel="median test accuracy (band IQR)",
              ylim=(0, 1.02), title="Accuracy vs calibration budget")
    left.legend(fontsize=8, loc="lower right")
    right.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_all(run: RunDir, verdicts: list[dict[str, Any]]) -> list[Path]:
    """Every plot of `verdicts` (the run's measured tests) that has data; returns the written paths."""
    folder = run.subdir("plots")
    made = [plot_accuracy_vs_mismatch(verdicts, folder / "accuracy_vs_mismatch.png"),
            plot_yield(verdicts, folder / "yield.png"),
            plot_histograms(verdicts, folder / "accuracy_hist.png"),
            plot_budget(verdicts, folder / "calibration_budget.png"),
            plot_accuracy_vs_energy(verdicts, folder / "accuracy_vs_energy.png")]
    return [p for p in made if p is not None]


def plot_accuracy_vs_energy(verdicts: list[dict[str, Any]], path: Path) -> Path | None:
    """Accuracy against energy per inference, one point per network and condition (several
    networks only), markers per suite, with the Pareto front (no point both cheaper and
    more accurate)."""
    points = [v for v in verdicts if (v.get("energy") or {}).get("energy_per_inference", {}).get("model_j")]
    if len({v["network"] for v in points}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    markers = dict(zip(SUITES, "osD^v"))
    colours = {network: f"C{i}" for i, network in enumerate(sorted({v["network"] for v in points}))}
    xy = []
    for v in points:
        energy = v["energy"]["energy_per_inference"]["model_j"]
        x, acc = 1e6 * energy["mean"], v["accuracy"]
        ax.errorbar(x, acc["median"], xerr=1e6 * energy["stderr"],
                    yerr=[[acc["median"] - acc["q25"]], [acc["q75"] - acc["median"]]], fmt=markers[v["suite"]],
                    color=colours[v["network"]], alpha=0.8, markersize=5, elinewidth=0.8)
        xy.append((x, acc["median"]))
    front = sorted(p for p in xy if not any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in xy))
    ax.plot(*zip(*front), color="k", linestyle=":", linewidth=1, marker="o", markersize=11, fillstyle="none",
            label="Pareto front")
    for network, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=network)
    for suite in sorted({v["suite"] for v in points}):
        ax.plot([], [], markers[suite], color="grey", label=SUITES[suite].title)
    _limits(ax, points[0])
    ax.set(xscale="log", xlabel="energy per inference, chip power model (µJ)",
           ylabel="median test accuracy per chip (bars IQR)", ylim=(0, 1.02),
           title="Accuracy vs energy per inference (one point per network and condition)")
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    return _save(fig, path)


def _save(fig: Any, path: Path, layout: bool = True) -> Path:
    """Save atomically (temporary file in the same folder, then rename)."""
    if layout:
        fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path
