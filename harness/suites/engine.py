"""The machinery every suite shares: conditions, yield, reference, records, resume, driver check.

A suite sweeps conditions (a mismatch level, a weight resolution, ...; `conditions`). At
each one it evaluates every virtual chip on the batched simulator, in chunks whose chip
records are written as soon as they are done (finished chips are reused on a rerun;
`chips`), computes the yield on class-balanced test samples, puts it next to the suite's
reference condition (the same chips without the perturbation under test), cross-checks a
sample of chips through the driver path bit for bit (`driver_check`), measures the boards
under test meanwhile (harness.boards: one worker per board, each placed among the virtual
chips), and publishes each chip's measurements and the verdict on the session's measurement
stream (harness.stream), to which the run directory, JUnit and the console subscribe
(`verdict`). The verdict is computed in the test's setup (the plugin's `verdict` fixture),
so a chip, target or instrument that fails is a pytest ERROR; `check` turns the verdict
into the test's assertions (a FAIL; `assertions`). This module gathers what the suites and
the plugin use.
"""
from harness.suites.assertions import check
from harness.suites.conditions import Condition, Setup, conditions, same_network
from harness.suites.verdict import evaluate_condition

__all__ = ["Condition", "Setup", "check", "conditions", "evaluate_condition", "same_network"]
