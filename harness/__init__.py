"""The harness: CLI, pipeline, compile/deploy, robustness suites, pytest plugin, reports."""
