"""Float simulation and training of spiking networks, and the batched vc1 chip simulator.

`sim` knows nothing of drivers or the CLI, and sets nothing process-wide: the BLAS
threading default belongs to the application (`harness`, see its package docstring).
"""
