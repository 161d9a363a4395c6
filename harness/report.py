"""The Markdown report of a run directory (report.md), with its plots.

Everything comes from the run's summary (built by the measurement stream's recorder) and
its directory (manifest, networks, compiled configurations), so `harness report DIR`
re-renders it at any time from a replay of the directory.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.boards.report import boards_section
from harness.energy import energy_table
from harness.percent import percent, percent_with_range
from harness.plots import numeric, plot_all
from harness.results import RunDir
from harness.suites.catalog import SUITES
from sim.atomic import write_text


def render(run: RunDir, summary: dict[str, Any]) -> Path:
    """Write plots/*.png and report.md of a run and its summary (harness.recorder); returns
    the report's path."""
    run = RunDir(run.root.resolve())
    measured = [t for t in summary["tests"] if t.get("verdict") and t.get("unit") is None]
    plots = plot_all(run, measured)
    text = "\n".join([*_header(run, summary), *_problems(summary), *_networks(run), *_verdicts(measured),
                      *boards_section(measured, summary.get("boards") or []), *_populations(measured),
                      *_comparison(measured), *energy_table(measured), *_plots(run, plots), *_reproduce(run)])
    return write_text(run.report_path, text)


def _points(value: float) -> str:
    """A change of a fraction, in percentage points with its sign."""
    return f"{100 * value:+.1f} pt"


def _header(run: RunDir, summary: dict[str, Any]) -> list[str]:
    manifest = run.manifest()
    totals = summary["totals"]
    seeds = manifest.get("chip_seeds") or []
    packages = ", ".join(f"{k} {v}" for k, v in sorted((manifest.get("packages") or {}).items()))
    chance = sorted({t["chance"] for t in summary["tests"] if "chance" in t})
    return [
        f"# Robustness report: {summary['outcome']}", "",
        "PASS: every configured test ran and met its limit. CHARACTERISED: every configured test ran, but none "
        "checked a limit (measured, not judged). FAIL: a test missed its limit. ERROR: a test, chip, target or "
        "instrument failed, or a configured test was skipped.", "",
        f"- run directory: `{run.root}`; started {manifest.get('created')}"
        + (f", resumed {len(manifest['resumed'])}x" if manifest.get("resumed") else ""),
        f"- {len(seeds)} virtual chips (chip seeds {seeds[0]}..{seeds[-1]})" if seeds else "- no chips",
        f"- chip spec version {manifest.get('spec_version')}: {', '.join(manifest.get('specs') or {})}; "
        f"driver path: `{manifest.get('target')}`",
        f"- tests: {totals['tests']} ({totals['pass']} passed, of which {totals['characterised']} characterised "
        f"without a limit; {totals['fail']} failed; {totals['error']} errors; {totals['skip']} skipped)",
        "- accuracy is measured on class-balanced test samples; chance level (a constant answer) is "
        + (", ".join(percent(c) for c in chance) if chance else "n/a"),
        f"- packages: {packages}", "",
    ]


def _problems(summary: dict[str, Any]) -> list[str]:
    """Every test that did not pass, once, with its message; and run-level errors."""
    rows = [f"| {t['outcome'].upper()} | {t.get('suite') or '—'} | {t.get('network') or '—'} | "
            f"{t.get('condition') or '—'}{_unit(t)} | {_cell(t.get('message', ''))} |"
            for t in summary["tests"] if t["outcome"] != "pass"]
    rows += [f"| ERROR | — | — | — | {_cell(e)} |" for e in summary["errors"]]
    if not rows:
        return []
    return ["## Problems", "", "| outcome | suite | network | condition | message |", "|---|---|---|---|---|",
            *rows, ""]


def _unit(test: dict[str, Any]) -> str:
    unit = test.get("unit")
    return "" if unit is None else " (model vs boards)" if unit == "model" else f" (board {unit})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readout_fitted(refit: dict) -> str:
    """Where a compiled network's readout was fitted, from its report's `readout_refit`."""
    if refit.get("chip") != "shared":
        return refit.get("chip", "as compiled")
    if "nominal_weight" in refit and refit["nominal_weight"] is None:
        return "nominal (a shared readout failed the nominal chip)"
    traces = ", rate-normalised traces" if refit.get("normalised") else ""
    return (f"shared: nominal (weight {refit.get('nominal_weight', 1)}) + {refit.get('sampled_chips')} sampled "
            f"chips{traces}")


def _networks(run: RunDir) -> list[str]:
    from harness.compiler import CompiledNetwork  # noqa: PLC0415 - heavy imports only when rendering
    from harness.compiler.report import neurons_text  # noqa: PLC0415
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
        fitted = readout_fitted(report.get("readout_refit") or {})
        rows.append(f"| {key} | {neurons_text(report)} | "
                    f"{percent(accuracy) if accuracy is not None else 'n/a'} | "
                    f"{fan.get('median', 'n/a')} / {fan.get('limit', 'n/a')} | {fitted} |")
    if not rows:
        return []
    return ["## Networks", "",
            "| network | neurons | float test accuracy | CAM fan-in median / limit | readout fitted on |",
            "|---|---|---|---|---|", *rows, ""]


def _verdicts(tests: list[dict[str, Any]]) -> list[str]:
    if not tests:
        return []
    judged = sorted({_judged(v) for v in tests})
    rules = sorted({v["yield"].get("rule", "point") for v in tests})
    lines = ["## Verdicts", "",
             f"The yield verdict judges the {' / '.join(judged)} deployment. Yield = fraction of chips whose test "
             "accuracy meets the accuracy spec, shown with its exact (Clopper–Pearson) two-sided 95% interval. "
             f"Yield rule: {' / '.join(f'`{r}`' for r in rules)} — {' '.join(RULE_TEXT[r] for r in rules)} "
             "Conditions without a limit are characterised, not judged. Both "
             "deployments are shown: uncalibrated (the compiled readout, fitted where the Networks table says) and "
             "calibrated "
             "(each chip's readout refitted on a few class-balanced training trials run through that chip, "
             "disjoint from the test samples). Each condition is shown beside its reference: the same chips "
             "without the perturbation under test (the nominal chips for the mismatch sweep). Driver: spike bits "
             "that differ between the driver path and the batched simulator on the cross-checked chips.", "",
             "| suite | network | condition | yield | limit | Δ yield vs reference | accuracy median [IQR] | "
             "uncalibrated: yield, median | calibrated: yield, median | driver bits | outcome |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for v in sorted(tests, key=lambda v: (v["suite"], v["network"], numeric(v))):
        low = v["yield"]["limits"]["low"]
        acc, ref, driver = v["accuracy"], v["reference"], v["driver"]
        checked = f"{driver['bit_errors']} of {sum(c['bits'] for c in driver['chips'])}" if driver["chips"] \
            else f"not checked ({driver['skipped']})"
        both = [f"{percent_with_range(d['yield'], d.get('yield_ci95'))}, {percent(d['accuracy']['median'])}" for d in
                (v["deployments"]["uncalibrated"], v["deployments"]["calibrated"])]
        lines.append(f"| {v['suite']} | {v['network']} | {v['condition']} | "
                     f"{percent_with_range(v['yield']['value'], v['yield'].get('ci95'))} | {_limit(v['yield'])} | "
                     f"{_points(ref['delta_yield'])} (ref. {ref['condition']}: {percent(ref['yield'])}) | "
                     f"{_median_iqr(acc)} | {both[0]} | {both[1]} | {checked} | **{_outcome(v)}** |")
        if v["outcome"] == "fail" and low is not None and ref["yield"] < low:
            notes.append(f"- {v['suite']} {v['condition']} ({v['network']}): the reference {ref['condition']} "
                         f"already has yield {percent(ref['yield'])} < {percent(low)} on the same chips, so this failure "
                         "comes from the chip population, not from the perturbation under test.")
    return [*lines, "", *notes, *([""] if notes else []), *_budget(tests)]


RULE_TEXT = {"lower_bound": "PASS when the one-sided 95% lower confidence bound of the yield meets the threshold "
                           "(14 chips, all passing, are the fewest that can show 80%).",
             "point": "PASS when the observed yield meets the threshold."}


def _median_iqr(accuracy: dict[str, float]) -> str:
    """'median [q25–q75]' of an accuracy distribution over chips."""
    return percent_with_range(accuracy["median"], (accuracy["q25"], accuracy["q75"]))


def _limit(y: dict[str, Any]) -> str:
    """The yield's limit, and what the rule compares with it."""
    low = y["limits"]["low"]
    if low is None:
        return "—"
    if y.get("rule") == "lower_bound":
        return f"lower bound {percent(y['lower_bound95'])} >= {percent(low)}"
    return f">= {percent(low)}"


def _outcome(test: dict[str, Any]) -> str:
    """The test's outcome; a passed condition without a limit says it was characterised."""
    return "characterised" if test["outcome"] == "pass" and test.get("verdict") == "info" else test["outcome"].upper()


def _judged(verdict: dict[str, Any]) -> str:
    judged = verdict["judged"]
    if judged["deployment"] != "calibrated":
        return "uncalibrated"
    return f"calibrated ({judged['calibration_trials']} {judged['calibration_split']} trials per chip)"


def _budget(tests: list[dict[str, Any]]) -> list[str]:
    """Yield and median accuracy against the calibration budget on the run's chip population."""
    curves = {v["network"]: v["reference"] for v in tests if v["reference"].get("budget_curve")}
    if not curves:
        return []
    budgets = sorted({int(k) for ref in curves.values() for k in ref["budget_curve"]})
    lines = ["### Calibration budget", "",
             "Yield and median accuracy on the run's chip population against the number of class-balanced "
             "calibration trials per chip (0 = uncalibrated).", "",
             "| network | population | " + " | ".join(f"{k} trials" for k in budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]
    for network, ref in sorted(curves.items()):
        cells = [f"{percent(c['yield'])} ({percent(c['accuracy']['median'])})" if c else "—"
                 for c in (ref["budget_curve"].get(str(k)) for k in budgets)]
        lines.append(f"| {network} | {ref['condition']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _populations(tests: list[dict[str, Any]]) -> list[str]:
    """Which chips each suite ran on."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for v in tests:
        seen.setdefault((v["suite"], v["network"]), v)
    if not seen:
        return []
    lines = ["## Chip populations", "", "| suite | network | chips | chip seeds | mismatch | test samples per chip |",
             "|---|---|---|---|---|---|"]
    for (suite, network), v in sorted(seen.items()):
        population = v["population"]
        mismatch = "swept" if SUITES[suite].perturbs_population else population["mismatch"]
        lines.append(f"| {suite} | {network} | {population['chips']} | {population['chip_seeds']} | {mismatch} | "
                     f"{v['samples']} (class-balanced; chance {percent(v['chance'])}) |")
    return [*lines, ""]


def _comparison(tests: list[dict[str, Any]]) -> list[str]:
    """Methods × conditions: median chip accuracy [IQR] (only when several networks ran)."""
    networks = sorted({v["network"] for v in tests})
    if len(networks) < 2:
        return []
    columns: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for v in tests:
        columns[(v["suite"], v["condition"])][v["network"]] = v
    order = sorted(columns, key=lambda c: (list(SUITES).index(c[0]), numeric(next(iter(columns[c].values())))))
    lines = ["## Method comparison on vc1 chips", "",
             "Median test accuracy over chips [interquartile range]; yield in parentheses.", "",
             "| condition | " + " | ".join(networks) + " |", "|---|" + "---|" * len(networks)]
    for column in order:
        cells = []
        for network in networks:
            v = columns[column].get(network)
            cells.append("—" if v is None else f"{_median_iqr(v['accuracy'])} ({percent(v['yield']['value'])})")
        lines.append(f"| {SUITES[column[0]].title} {column[1]} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _plots(run: RunDir, plots: list[Path]) -> list[str]:
    if not plots:
        return []
    return ["## Plots", "", *(f"![{p.stem}]({p.relative_to(run.root).as_posix()})\n" for p in plots)]


def _reproduce(run: RunDir) -> list[str]:
    return ["## Reproduce", "", f"`harness run {run.config_path}` reruns this configuration "
            f"(`--out {run.root}` resumes this directory); `harness report {run.root}` re-renders this report.",
            ""]
