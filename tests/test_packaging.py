"""What the distribution installs: exactly the project's own top-level packages."""
import importlib.metadata
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).parent.parent


def test_only_the_project_packages_are_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    top_level = {name.split(".")[0] for name in find_packages(str(ROOT), include=config["include"])}
    assert top_level == {"harness", "drivers", "sim"}  # never `fixtures`, which would shadow PyPI's package


def test_the_simulated_lab_is_package_data():
    files = importlib.metadata.files("snn-hil-harness") or []
    data = ROOT / "drivers" / "instruments" / "instruments.yaml"
    assert data.is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.yaml" in config["drivers.instruments"]
    assert not any(str(f).startswith("fixtures") for f in files)
