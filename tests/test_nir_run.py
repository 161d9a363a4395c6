"""`harness run` and the pytest plugin on an imported NIR graph with the user's data (issue 21)."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import drivers.targets  # noqa: F401 - imported before pytester's in-process runs (see test_plugin.py)
import harness.context  # noqa: F401
from harness.cli import main
from harness.context import network_plan
from harness.run_config import RunConfigError, config_from_dict, load_config

pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nir"
MODEL, DATA = str(FIXTURES / "snntorch_rsynaptic.nir"), str(FIXTURES / "snntorch_data.npz")
TINY = f"""
tasks = ["{DATA}"]
networks = ["{MODEL}"]
dt = 1e-4
reset = "subtract"
convention = "snntorch"
chips = 2
instruments = "none"
suites = ["mismatch_yield"]
[suite.common]
samples = 6
calibration_trials = 3
budget_curve = [0, 3]
[suite.mismatch_yield]
levels = [0.0, "spec"]
"""


def test_networks_take_the_place_of_methods():
    config = config_from_dict({"tasks": [DATA], "networks": [MODEL], "dt": 1e-4, "convention": "snntorch"})
    assert [(key, m) for key, _, m, _ in network_plan(config)] == [
        ("snntorch_data-snntorch_rsynaptic-dynapse1", MODEL)]
    assert load_config(None).networks == ()


@pytest.mark.parametrize("fields, message", [
    ({"networks": [MODEL]}, "field 'dt' must be set"),
    ({"networks": [MODEL], "dt": 0}, "field 'dt' must be set"),
    ({"networks": ["missing.nir"], "dt": 1e-4}, "field 'networks' has 'missing.nir'"),
    ({"networks": [MODEL], "dt": 1e-4, "reset": "half"}, "field 'reset' must be one of subtract, zero"),
    ({"networks": [MODEL], "dt": 1e-4, "convention": "rk4"}, "field 'convention' must be one of euler, snntorch"),
    ({"dt": -1.0}, "field 'dt' must be seconds > 0"),
])
def test_bad_network_fields_name_the_field(fields, message):
    with pytest.raises(RunConfigError, match=message):
        config_from_dict(fields, origin="run.toml")


def test_harness_run_on_an_imported_snntorch_network(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(TINY)
    result = CliRunner().invoke(main, ["run", str(config), "--out", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code in (0, 1), result.output  # PASS or FAIL: every test ran, none errored
    assert "imported from" in result.output and "19 neurons" in result.output
    assert "float test accuracy 0.9" in result.output  # the graph itself on the test split (0.933 when made)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["outcome"] in ("PASS", "FAIL") and summary["totals"]["error"] == 0
    assert summary["totals"]["tests"] == 2 and summary["totals"]["skip"] == 0
    saved = tmp_path / "run" / "networks" / "snntorch_data-snntorch_rsynaptic.npz"
    assert saved.is_file()


def test_plugin_takes_network_and_task_options(pytester, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('dt = 1e-4\nconvention = "snntorch"\ninstruments = "none"\nchips = 1\n')
    pytester.makepyfile(test_net="def test_plan(harness):\n"
                                  "    print('NETWORKS', harness.config.networks, 'TASKS', harness.config.tasks)\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", f"--harness-config={config}",
                                f"--harness-network={MODEL}", f"--harness-task={DATA}",
                                f"--harness-results={tmp_path / 'r'}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*NETWORKS ('{MODEL}',) TASKS ('{DATA}',)*"])
