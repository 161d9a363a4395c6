"""A suite test's assertions on its condition's verdict."""
from __future__ import annotations

from typing import Any


def check(verdict: dict[str, Any]) -> None:
    """The test's assertions: bit-exact driver path, and the yield where it is asserted."""
    driver = verdict["driver"]
    assert driver["bit_errors"] == 0, (
        f"driver path ({driver['target']}) differs from the batched simulator in {driver['bit_errors']} "
        f"spike bits: " + "; ".join(f"chip seed {c['chip_seed']} ({c['chip_id']}): {' '.join(c['differences'])}"
                                    for c in driver["chips"] if c["bit_errors"]))
    assert not driver.get("counter_errors"), (
        f"driver path ({driver['target']}) counts other activity than the batched simulator on "
        f"{driver['counter_errors']} trials: " + "; ".join(
            f"chip seed {c['chip_seed']}: {' '.join(c['differences'])}" for c in driver["chips"] if c.get("counter_errors")))
    if verdict["asserted"]:
        y = verdict["yield"]
        shortfall = (f"yield {y['value']:.3f} < {y['limits']['low']:.3f}" if y.get("rule", "point") == "point" else
                     f"yield {y['value']:.3f} (95% CI {y['ci95'][0]:.3f}-{y['ci95'][1]:.3f}) has a 95% lower "
                     f"confidence bound {y['lower_bound95']:.3f} < {y['limits']['low']:.3f}")
        assert y["outcome"] == "pass", (
            f"{shortfall}: "
            f"{round(y['value'] * len(verdict['chip_seeds']))} of {len(verdict['chip_seeds'])} chips reach "
            f"accuracy >= {verdict['accuracy_spec']:.3f} (median {verdict['accuracy']['median']:.3f}); "
            f"reference {verdict['reference']['condition']} on the same chips: yield "
            f"{verdict['reference']['yield']:.3f}")
