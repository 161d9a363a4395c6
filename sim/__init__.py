"""Float simulation and training of spiking networks, and the batched vc1 chip simulator.

`sim` knows nothing of drivers or the CLI.
"""
