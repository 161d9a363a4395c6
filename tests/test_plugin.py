"""The pytest plugin: options, markers, skips with reasons, fixtures (pytester)."""
import json

import drivers.targets  # noqa: F401 - imported here, before pytester's in-process runs, which
import harness.context  # noqa: F401 - drop modules they import and cannot re-import NumPy

pytest_plugins = ["pytester"]

TESTS = '''
import pytest

@pytest.mark.needs_board
def test_board(chip):
    assert chip is not None

@pytest.mark.needs_instrument("supply")
def test_supply():
    pass

def test_chips(virtual_chips, harness):
    print("SEEDS", ",".join(map(str, virtual_chips.seeds)), "MISMATCH", virtual_chips.mismatch, "SPEC", virtual_chips.spec)
    assert harness.run.config_path.is_file()

def test_chip(chip):
    print("CHIP", chip.identity().chip_id, chip.identity().spec_name)
'''


def test_options_are_listed_in_help(pytester):
    result = pytester.runpytest("--help")
    for option in ("--harness-target", "--harness-spec", "--harness-chips", "--harness-mismatch", "--harness-seed",
                   "--harness-results", "--harness-instruments", "--harness-config"):
        result.stdout.fnmatch_lines([f"*{option}*"])


def test_markers_are_registered(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*needs_board*", "*needs_instrument*"])
    pytester.makepyfile(test_strict="import pytest\n@pytest.mark.needs_board\ndef test_a(): pass\n")
    # a board-only test is not part of a run on the in-process emulator (deselected, never skipped)
    pytester.runpytest("--strict-markers", "-p", "no:cacheprovider").assert_outcomes(deselected=1)


def test_hardware_tests_skip_with_reasons_and_fixtures_follow_options(pytester, tmp_path):
    pytester.makepyfile(TESTS)
    results = tmp_path / "results"
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-s", "--harness-instruments", "none",
                                "--harness-chips", "3", "--harness-seed", "10", "--harness-mismatch", "0.1",
                                "--harness-spec", "dense1k", f"--harness-results={results}")
    result.assert_outcomes(passed=2, skipped=1, deselected=1)  # the board test is not part of this run
    result.stdout.fnmatch_lines(["*SEEDS 10,11,12 MISMATCH 0.1 SPEC dense1k*", "*CHIP seed:10 dense1k*"])
    result.stdout.fnmatch_lines(["*SKIPPED*needs an instrument (supply): --harness-instruments is none*"])
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["chip_seeds"] == [10, 11, 12] and manifest["spec_version"] == "vc1"
    assert 'specs = ["dense1k"]' in (results / "config.toml").read_text()


def test_bad_option_values_are_usage_errors_naming_the_field(pytester, tmp_path):
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--harness-mismatch", "lots",
                                f"--harness-results={tmp_path / 'r'}", "-k", "chips")
    assert result.ret == 4  # pytest's usage error
    result.stderr.fnmatch_lines(["*command line: field 'mismatch' is invalid*"])


def test_a_config_file_sets_defaults_that_options_override(pytester, tmp_path):
    pytester.makepyfile(TESTS)
    config = tmp_path / "run.toml"
    config.write_text('chips = 2\nseed = 5\ninstruments = "none"\n')
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", f"--harness-config={config}", "--harness-seed=7",
                                f"--harness-results={tmp_path / 'r'}", "-k", "chips")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SEEDS 7,8 MISMATCH spec SPEC dynapse1*"])
