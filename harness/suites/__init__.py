"""Built-in robustness suites: pytest modules, one per perturbation (docs/suites.md).

Run them with `pytest --pyargs harness.suites [--harness-...]` or through `harness run`.
Each evaluates the deployed networks across many virtual chips on the batched simulator,
cross-checks a sample of chips through the driver path bit for bit, and asserts a yield
spec; parameters and their defaults are in `defaults.toml` beside this file.
"""
