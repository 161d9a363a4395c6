"""Small random float networks for tests."""
import numpy as np

from sim.network import SpikingNetwork


def random_network(rng, n=12, n_in=2, n_out=1) -> SpikingNetwork:
    return SpikingNetwork(
        tau_mem=rng.uniform(10, 50, n), tau_fast=np.full(n, 1.0), tau_slow=rng.uniform(30, 90, n),
        v_th=np.ones(n), v_rest=np.full(n, 0.5), bias=rng.uniform(0, 1.0, n),
        w_in=rng.normal(0, 2, (n_in, n)), w_fast=rng.normal(0, 0.5, (n, n)), w_slow=rng.normal(0, 0.5, (n, n)),
        w_out=rng.normal(0, 1, (n, n_out)), v_reset=0.0, tau_out=70.0)
