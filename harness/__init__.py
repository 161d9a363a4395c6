"""The harness: CLI, pipeline, compile/deploy, robustness suites, pytest plugin, reports."""
import sim  # noqa: F401 - first, so its BLAS threading default applies before NumPy loads
