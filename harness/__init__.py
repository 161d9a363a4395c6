"""The harness: CLI, pipeline, compile/deploy, robustness suites, pytest plugin, reports.

Its entry points (the `harness` command and the pytest plugin) import this package before
NumPy loads, so this is where the process's BLAS threading default is set: the simulators
multiply many small matrices per step and parallelise over chips themselves, and a
multithreaded BLAS on such small products only adds contention (10x slower on 2 busy
cores, measured). A user's OPENBLAS_NUM_THREADS wins.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
