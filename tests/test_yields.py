"""Yields carry exact confidence: Clopper-Pearson intervals, the lower-bound yield rule, and
the smoke run that claims no yield verdict."""
import pytest
from scipy.stats import binomtest

from harness.recorder import summarise
from harness.run_config import load_config
from harness.stream import ConditionMeasured
from harness.yields import YieldEstimate, estimate, fewest_chips, yield_measurements


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (53, 64), (64, 64), (1, 1)])
def test_intervals_are_the_exact_clopper_pearson_ones(k, n):
    interval = binomtest(k, n).proportion_ci(0.95, method="exact")
    assert YieldEstimate(k, n).interval == pytest.approx((interval.low, interval.high))
    one_sided = binomtest(k, n, alternative="greater").proportion_ci(0.95, method="exact")
    assert YieldEstimate(k, n).lower_bound == pytest.approx(one_sided.low)


def test_fourteen_passing_chips_are_the_fewest_that_show_80_percent():
    assert fewest_chips(0.8) == 14
    assert YieldEstimate(14, 14).lower_bound >= 0.8 > YieldEstimate(13, 13).lower_bound
    assert YieldEstimate(8, 8).lower_bound < 0.8     # --quick's 8 chips can never pass


def test_the_rule_puts_the_limit_on_the_judged_number():
    y = estimate([0.9] * 53 + [0.5] * 11, 0.75)      # 83 % of 64 chips: the 40 % dead-neuron condition
    point, bound, low, high = yield_measurements(y, 0.8, "lower_bound")
    assert point.low is None and bound.low == 0.8 and bound.outcome == "fail" and point.value == pytest.approx(53 / 64)
    assert low.value < bound.value < point.value < high.value
    point, bound, _, _ = yield_measurements(y, 0.8, "point")
    assert point.outcome == "pass" and bound.low is None


def test_a_missed_lower_bound_names_the_interval():
    from harness.suites.engine import check
    y = YieldEstimate(53, 64)
    verdict = {"asserted": True, "accuracy_spec": 0.75, "chip_seeds": list(range(64)),
               "yield": {"value": y.value, "limits": {"low": 0.8}, "outcome": "fail", "rule": "lower_bound",
                         **y.to_dict()},
               "accuracy": {"median": 0.88}, "reference": {"condition": "mismatch=spec", "yield": 1.0},
               "driver": {"target": "emulator", "bit_errors": 0, "chips": []}}
    with pytest.raises(AssertionError, match=r"yield 0.828 \(95% CI 0.713-0.911\) has a 95% lower confidence "
                                             r"bound 0.732 < 0.800: 53 of 64 chips"):
        check(verdict)


def test_yield_rule_is_a_checked_setting(tmp_path):
    assert load_config().suite_params("noise")["yield_rule"] == "lower_bound"
    path = tmp_path / "run.toml"
    path.write_text('[suite.common]\nyield_rule = "median"\n')
    with pytest.raises(ValueError, match=r"'suite\.\w+\.yield_rule' must be one of lower_bound, point, got 'median'"):
        load_config(path)


def test_the_smoke_run_is_characterised_not_judged():
    quick = load_config().quick()
    assert all(quick.suite_params(s)["assert_at"] == [] for s in quick.suites)
    measured = ConditionMeasured("noise", "net", "level=0.01", (), "info")
    outcomes = {"tests": [{"nodeid": "t", "outcome": "pass", "suite": "noise", "network": "net",
                           "condition": "level=0.01"}], "errors": [], "collection_errors": [], "pytest_exit": 0,
                "interrupted": False}
    summary = summarise(outcomes, {("noise", "net", "level=0.01"): measured}, {})
    assert summary["outcome"] == "CHARACTERISED"
    outcomes["tests"][0]["outcome"] = "error"
    assert summarise(outcomes, {}, {})["outcome"] == "ERROR"
