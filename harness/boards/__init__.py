"""Boards under test: real (or anonymous emulated) boards measured at every suite condition
the hardware can realise, judged one by one, and compared with the virtual chips — the
model's prediction for a board.

`realise` says which conditions a board can realise; `measure` runs one condition on one
board through its driver (both deployments, calibrated on that board); `bench` holds the
run's boards, measures them concurrently (one worker per board) and keeps their records so
a rerun measures only what is missing; `model` places each board among the virtual chips
(percentile, prediction band) and tests the model against the boards; `verdicts` turns
that into per-board and model-consistency checks, summary entries and console lines.
"""
