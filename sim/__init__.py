"""Float simulation and training of spiking networks, and the batched vc1 chip simulator.

`sim` knows nothing of drivers or the CLI.

The simulators multiply many small matrices per time step and parallelise over chips
themselves; a multithreaded BLAS on such small products only adds contention (10x
slower on 2 busy cores, measured). So BLAS runs single-threaded unless the user set
OPENBLAS_NUM_THREADS (effective when `sim` is imported before NumPy, as the CLI does).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
