"""The report's Boards section: every board at every condition, beside the virtual chips."""
from __future__ import annotations

from typing import Any

from harness.boards.model import ALPHA, BAND
from harness.percent import percent, percent_range, percent_with_range


def boards_section(tests: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: a table of board measurements, then the model against the boards per condition."""
    if not rows:
        return []
    lines = ["## Boards", "",
             "Each board under test is measured through its driver at every condition the hardware can realise "
             "(its own mismatch is one point, compared with the virtual chips at the spec's mismatch), in both "
             "deployments: the compiled readout, and the readout calibrated on that board with the run's "
             "calibration trials run through it. The virtual chips at the same condition are the model's "
             f"prediction: a board's percentile is its place among them, and the prediction band is their central "
             f"{BAND:.0%} widened by one test sample's resolution. Each board is a unit under test at every condition "
             "it realises: PASS at an asserted condition when its judged accuracy meets the accuracy spec, "
             "characterised at the others (an ERROR there too when it could not be measured). Conditions a board "
             "cannot realise are "
             "marked *virtual chips only* (neither a skip nor an error).", "",
             "| suite | network | condition | board | uncalibrated | calibrated | judged | percentile | band | "
             "inside band | outcome |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    virtual_only: dict[tuple[str, str, str, str], int] = {}
    for r in rows:
        if "virtual_only" in r:
            key = (r["suite"], r["network"], r["condition"], r["virtual_only"])
            virtual_only[key] = virtual_only.get(key, 0) + 1
    for r in rows:
        place = f"| {r['suite']} | {r['network']} | {r['condition']} | {r['chip_id']} |"
        if "virtual_only" in r:
            count = virtual_only.pop((r["suite"], r["network"], r["condition"], r["virtual_only"]), 0)
            if count:  # one row for the boards that cannot realise the condition
                boards = f"{count} board{'s' if count > 1 else ''}"
                lines.append(f"| {r['suite']} | {r['network']} | {r['condition']} | {boards} |"
                             f"{' — |' * 6} *{r['virtual_only']}* |")
        elif "error" in r:
            lines.append(f"{place} — | — | — | — | — | — | **ERROR** {_cell(r['error'])} |")
        else:
            calibrated = next((v for k, v in r.items() if k.startswith("accuracy_calibrated_")), None)
            lines.append(f"{place} {percent(r['accuracy_uncalibrated'])} | "
                         f"{'—' if calibrated is None else percent(calibrated)} | {percent(r['accuracy'])} | "
                         f"{r['percentile']:.0f} | {percent_range(*r['band'])} | "
                         f"{'yes' if r['inside_band'] else '**no**'} | "
                         f"{'characterised' if r['outcome'] == 'info' else r['outcome'].upper()} |")
    lines += ["", "### The model against the boards", "",
              f"Board yield beside the virtual yield (each with its exact 95% interval), and how many boards fall "
              f"outside the prediction band. With 3 or more boards a model-consistency test per condition FAILs when "
              f"more boards fall outside than a binomial test at alpha = {ALPHA:g} allows (each board outside with "
              f"probability {1 - BAND:.0%} under the model).", "",
              "| suite | network | condition | virtual yield | board yield | boards outside band | model |",
              "|---|---|---|---|---|---|---|"]
    for v in tests:
        boards = v.get("boards")
        if not boards or boards.get("yield") is None:
            continue
        model = boards.get("model")
        measured = sum("accuracy" in e for e in boards["entries"])
        outside = sum("accuracy" in e and not e["inside_band"] for e in boards["entries"])
        verdict = "— (fewer than 3 boards)" if model is None else \
            f"{'consistent' if model['outcome'] == 'pass' else '**does not predict these boards**'} " \
            f"(at most {model['allowed_outside']} may fall outside)"
        lines.append(f"| {v['suite']} | {v['network']} | {v['condition']} | {_yield(v['yield'])} | "
                     f"{_yield(boards['yield'])} | {outside} of {measured} | {verdict} |")
    return [*lines, ""]


def _yield(y: dict[str, Any]) -> str:
    """A yield with its exact 95% interval."""
    return percent_with_range(y["value"], y["ci95"])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
