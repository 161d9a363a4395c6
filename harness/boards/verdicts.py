"""Boards in a condition's verdict: each board judged as a unit and placed among the virtual
chips, the board yield beside the virtual yield, and the model-consistency test.

`judge_boards` adds to each measured board its judged accuracy, percentile, whether it lies
in the prediction band and its outcome (pass / fail against the accuracy spec where the
condition is asserted, else info); `check_board` and `check_model` are the assertions of
the per-board and model-consistency tests; `board_summary` the summary's `boards` list.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.boards.model import (ALPHA, BAND, MIN_BOARDS, allowed_outside, consistency_p_value, percentile,
                                  prediction_band)
from harness.percent import percent, percent_with_range
from harness.results import FRACTION, Measurement
from harness.yields import estimate


class BoardError(RuntimeError):
    """A board could not be measured (unreachable, failed mid-run, another spec): its test is an ERROR."""


def judge_boards(entries: list[dict[str, Any]], virtual: np.ndarray, *, judged: str, spec_limit: float,
                 samples: int, asserted: bool) -> dict[str, Any]:
    """The boards' part of a verdict (see the module docstring)."""
    band = prediction_band(virtual, samples)
    judged_entries = []
    for entry in entries:
        if "error" in entry or "virtual_only" in entry:
            judged_entries.append({**entry, "outcome": "error" if "error" in entry else "virtual chips only"})
            continue
        accuracy = float(entry[judged])
        judged_entries.append({**entry, "accuracy": accuracy, "percentile": percentile(virtual, accuracy),
                               "inside_band": band.contains(accuracy),
                               "outcome": ("pass" if accuracy >= spec_limit else "fail") if asserted else "info"})
    measured = [e for e in judged_entries if "accuracy" in e]
    facts: dict[str, Any] = {"band": [band.low, band.high], "band_fraction": BAND, "entries": judged_entries,
                             "judged": judged, "model": None, "yield": None}
    if measured:
        facts["yield"] = estimate([e["accuracy"] for e in measured], spec_limit).to_dict()
    if len(measured) >= MIN_BOARDS:
        outside = sum(not e["inside_band"] for e in measured)
        allowed = allowed_outside(len(measured))
        facts["model"] = {"boards": len(measured), "outside": outside, "allowed_outside": allowed,
                          "p_value": consistency_p_value(len(measured), outside), "alpha": ALPHA,
                          "outcome": "pass" if outside <= allowed else "fail"}
    return facts


def board_entry(verdict: dict[str, Any], url: str) -> dict[str, Any]:
    """The board at `url` in a verdict; BoardError (the test's ERROR) when it was not measured."""
    entry = next(e for e in verdict["boards"]["entries"] if e["url"] == url)
    if "error" in entry:
        raise BoardError(entry["error"])
    if "virtual_only" in entry:
        raise BoardError(f"board {entry['chip_id']} at {url} cannot realise {verdict['condition']}: "
                         f"{entry['virtual_only']}")
    return entry


def board_measurements(entry: dict[str, Any], spec_limit: float, asserted: bool) -> tuple[Measurement, ...]:
    """A board's measurements at a condition (its JUnit properties)."""
    accuracies = [Measurement(name, float(value), FRACTION) for name, value in entry.items()
                  if name.startswith("accuracy_")]
    return (Measurement("accuracy", entry["accuracy"], FRACTION, low=spec_limit if asserted else None), *accuracies,
            Measurement("percentile", entry["percentile"], "%"),
            Measurement("inside_band", float(entry["inside_band"]), "bool"))


def check_board(verdict: dict[str, Any], entry: dict[str, Any]) -> None:
    """The per-board test's assertion at an asserted condition: its judged accuracy meets the
    accuracy spec (at a characterised condition, that the board was measured is all)."""
    if not verdict["asserted"]:
        return
    band = verdict["boards"]["band"]
    assert entry["accuracy"] >= verdict["accuracy_spec"], (
        f"board {entry['chip_id']}: accuracy {entry['accuracy']:.3f} < {verdict['accuracy_spec']:.3f} "
        f"({verdict['boards']['judged']}) at {verdict['condition']}; percentile {entry['percentile']:.0f} among "
        f"{len(verdict['chip_seeds'])} virtual chips, {'inside' if entry['inside_band'] else 'outside'} the "
        f"prediction band {band[0]:.3f}-{band[1]:.3f}")


def check_model(verdict: dict[str, Any]) -> None:
    """The model-consistency test's assertion; BoardError when too few boards were measured."""
    model = verdict["boards"]["model"]
    if model is None:
        measured = sum("accuracy" in e for e in verdict["boards"]["entries"])
        raise BoardError(f"only {measured} of {len(verdict['boards']['entries'])} boards were measured at "
                         f"{verdict['condition']}; the model-consistency test needs at least {MIN_BOARDS}")
    assert model["outcome"] == "pass", (
        f"{model['outside']} of {model['boards']} boards fall outside the prediction band "
        f"{verdict['boards']['band'][0]:.3f}-{verdict['boards']['band'][1]:.3f} at {verdict['condition']}; at most "
        f"{model['allowed_outside']} may (binomial test, alpha {model['alpha']:g}, p = {model['p_value']:.2g}): "
        "the model does not predict these boards")


def model_measurements(verdict: dict[str, Any]) -> tuple[Measurement, ...]:
    model, board_yield = verdict["boards"]["model"], verdict["boards"]["yield"]
    return (Measurement("boards_outside_band", float(model["outside"]), "boards",
                        high=float(model["allowed_outside"])),
            Measurement("boards", float(model["boards"]), "boards"),
            Measurement("board_yield", board_yield["value"], FRACTION),
            Measurement("board_yield_ci_low", board_yield["ci95"][0], FRACTION),
            Measurement("board_yield_ci_high", board_yield["ci95"][1], FRACTION))


def unit_verdict(test: dict[str, Any], facts: dict[str, Any] | None) -> str | None:
    """What a board's or the model test judged: its outcome where it ran ("info" for a board at
    a characterised condition), None where it did not."""
    if test["outcome"] not in ("pass", "fail"):
        return None
    characterised = test["unit"] != "model" and facts is not None and not facts.get("asserted", True)
    return "info" if characterised and test["outcome"] == "pass" else test["outcome"]


def board_summary(verdicts: list[dict[str, Any]], tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every board's entry at every condition, with its test's outcome where it has a test."""
    outcome_of = {(t.get("suite"), t.get("network"), t.get("condition"), t.get("unit")): t["outcome"] for t in tests}
    rows = []
    for v in verdicts:
        for entry in (v.get("boards") or {}).get("entries", []):
            tested = outcome_of.get((v["suite"], v["network"], v["condition"], entry["chip_id"]))
            outcome = entry["outcome"] if tested in (None, "pass") else tested  # info: characterised
            rows.append({"suite": v["suite"], "network": v["network"], "condition": v["condition"],
                         **{k: val for k, val in entry.items() if k not in ("fingerprint",)},
                         "band": v["boards"]["band"], "outcome": outcome, "tested": tested is not None})
    return rows


def unit_line(label: str, place: str, unit: str, boards: dict[str, Any] | None, message: str) -> str:
    """The console line of a board's or the model-consistency test."""
    if unit == "model":
        model = (boards or {}).get("model")
        if model is None or label in ("ERROR", "SKIP"):
            return f"{label:5} {place} model vs boards" + (f": {message}" if message else "")
        board_yield = boards["yield"]
        return (f"{label:5} {place} model vs boards: {model['outside']} of {model['boards']} boards outside the "
                f"prediction band (at most {model['allowed_outside']}); board yield "
                f"{percent_with_range(board_yield['value'], board_yield['ci95'])}"
                + (f"\n{'':6}{message}" if label == "FAIL" and message else ""))
    entry = next((e for e in (boards or {}).get("entries", []) if e["chip_id"] == unit), None)
    if entry is None or "accuracy" not in entry or label in ("ERROR", "SKIP"):
        return f"{label:5} {place} board {unit}" + (f": {message}" if message else "")
    characterised = entry["outcome"] == "info"
    label = "----" if characterised and label == "PASS" else label
    names = sorted((n for n in entry if n.startswith("accuracy_")), key=lambda n: n != "accuracy_uncalibrated")
    deployments = ", ".join(f"{_deployment_name(name)} {percent(entry[name])}" for name in names)
    return (f"{label:5} {place} board {unit}: accuracy {percent(entry['accuracy'])}; {deployments}; percentile "
            f"{entry['percentile']:.0f}, {'inside' if entry['inside_band'] else 'OUTSIDE'} the prediction band"
            + (" (characterised)" if characterised else ""))


def _deployment_name(measurement: str) -> str:
    """accuracy_uncalibrated -> 'uncalibrated'; accuracy_calibrated_8 -> 'calibrated (8 trials)'."""
    name = measurement.removeprefix("accuracy_")
    return "uncalibrated" if name == "uncalibrated" else f"calibrated ({name.removeprefix('calibrated_')} trials)"
