"""The Markdown report of a run directory (report.md), with its plots.

Everything comes from the run directory (manifest, verdicts, networks, compiled
configurations), so `harness report DIR` re-renders it at any time.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.plots import numeric, plot_all
from harness.results import RunDir
from sim.atomic import write_text

SUITE_TITLES = {"mismatch_yield": "Mismatch", "quantisation": "Weight quantisation", "noise": "Temporal noise",
                "neuron_failure": "Neuron failure", "supply_sweep": "Supply voltage"}


def render(run: RunDir) -> Path:
    """Write plots/*.png, summary.json and report.md; returns the report's path."""
    run = RunDir(run.root.resolve())
    summary = run.write_summary()
    plots = plot_all(run)
    text = "\n".join([*_header(run, summary), *_networks(run), *_verdicts(summary["tests"]),
                      *_comparison(summary["tests"]), *_plots(run, plots), *_reproduce(run)])
    return write_text(run.report_path, text)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _header(run: RunDir, summary: dict[str, Any]) -> list[str]:
    manifest = run.manifest()
    totals = summary["totals"]
    seeds = manifest.get("chip_seeds") or []
    verdict = "FAIL" if totals.get("fail") else "PASS"
    packages = ", ".join(f"{k} {v}" for k, v in sorted((manifest.get("packages") or {}).items()))
    return [
        f"# Robustness report: {verdict}", "",
        f"- run directory: `{run.root}`; started {manifest.get('created')}"
        + (f", resumed {len(manifest['resumed'])}x" if manifest.get("resumed") else ""),
        f"- {len(seeds)} virtual chips (chip seeds {seeds[0]}..{seeds[-1]})" if seeds else "- no chips",
        f"- chip spec version {manifest.get('spec_version')}: {', '.join(manifest.get('specs') or {})}; "
        f"driver path: `{manifest.get('target')}`",
        f"- tests: {totals.get('tests', 0)} ({totals.get('pass', 0)} passed, {totals.get('fail', 0)} failed, "
        f"{totals.get('info', 0)} characterised without a verdict)",
        f"- packages: {packages}", "",
    ]


def _networks(run: RunDir) -> list[str]:
    from harness.compiler import CompiledNetwork  # noqa: PLC0415 - heavy imports only when rendering
    from sim.netfile import load_network  # noqa: PLC0415
    rows = []
    for key in run.manifest().get("networks") or []:
        path = run.root / "compiled" / f"{key}.npz"
        if not path.is_file():
            continue
        report = CompiledNetwork.load(path).report
        net = report.get("network", {})
        float_path = run.root / "networks" / f"{net.get('task')}-{net.get('method')}.npz"
        metrics = load_network(float_path).meta.get("metrics", {}) if float_path.is_file() else {}
        accuracy = metrics.get("test_accuracy")
        fan = report.get("fan_in", {})
        rows.append(f"| {key} | {net.get('neurons')} | "
                    f"{_pct(accuracy) if accuracy is not None else 'n/a'} | "
                    f"{fan.get('median', 'n/a')} / {fan.get('limit', 'n/a')} |")
    if not rows:
        return []
    return ["## Networks", "", "| network | neurons | float test accuracy | CAM fan-in median / limit |",
            "|---|---|---|---|", *rows, ""]


def _verdicts(tests: list[dict[str, Any]]) -> list[str]:
    lines = ["## Verdicts", "",
             "Yield = fraction of chips whose test accuracy meets the accuracy spec. Conditions without a "
             "limit are characterised, not judged. Driver: spike bits that differ between the driver path "
             "and the batched simulator on the cross-checked chips.", "",
             "| suite | network | condition | yield | limit | accuracy median [IQR] | min | driver bits | outcome |",
             "|---|---|---|---|---|---|---|---|---|"]
    for v in sorted(tests, key=lambda v: (v["suite"], v["network"], numeric(v))):
        low = v["yield"]["limits"]["low"]
        acc = v["accuracy"]
        driver = v["driver"]
        checked = f"{driver['bit_errors']} of {sum(c['bits'] for c in driver['chips'])}" if driver["chips"] \
            else f"skipped ({driver['skipped']})"
        lines.append(f"| {v['suite']} | {v['network']} | {v['condition']} | {_pct(v['yield']['value'])} | "
                     f"{'>= ' + _pct(low) if low is not None else '—'} | {_pct(acc['median'])} "
                     f"[{_pct(acc['q25'])}–{_pct(acc['q75'])}] | {_pct(acc['min'])} | {checked} | "
                     f"**{v['outcome']}** |")
    return [*lines, ""]


def _comparison(tests: list[dict[str, Any]]) -> list[str]:
    """Methods × conditions: median chip accuracy [IQR] (only when several networks ran)."""
    networks = sorted({v["network"] for v in tests})
    if len(networks) < 2:
        return []
    columns: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for v in tests:
        columns[(v["suite"], v["condition"])][v["network"]] = v
    order = sorted(columns, key=lambda c: (list(SUITE_TITLES).index(c[0]), numeric(next(iter(columns[c].values())))))
    lines = ["## Method comparison on vc1 chips", "",
             "Median test accuracy over chips [interquartile range]; yield in parentheses.", "",
             "| condition | " + " | ".join(networks) + " |", "|---|" + "---|" * len(networks)]
    for column in order:
        cells = []
        for network in networks:
            v = columns[column].get(network)
            cells.append("—" if v is None else f"{_pct(v['accuracy']['median'])} [{_pct(v['accuracy']['q25'])}–"
                         f"{_pct(v['accuracy']['q75'])}] ({_pct(v['yield']['value'])})")
        lines.append(f"| {SUITE_TITLES[column[0]]} {column[1]} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _plots(run: RunDir, plots: list[Path]) -> list[str]:
    if not plots:
        return []
    return ["## Plots", "", *(f"![{p.stem}]({p.relative_to(run.root).as_posix()})\n" for p in plots)]


def _reproduce(run: RunDir) -> list[str]:
    return ["## Reproduce", "", f"`harness run {run.config_path}` reruns this configuration "
            f"(`--out {run.root}` resumes this directory); `harness report {run.root}` re-renders this report.",
            ""]
