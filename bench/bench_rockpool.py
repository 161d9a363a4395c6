"""Neuron-steps per second of Rockpool's CPU simulators (JAX, and Torch) on the vc1 benchmark workload.

Runs in its own environment (Rockpool, JAX and Torch are not dependencies of this project);
the models of whichever backend is installed run (`--models` picks some):

    python3 -m venv /tmp/rockvenv
    /tmp/rockvenv/bin/pip install rockpool==3.1.0 'jax[cpu]' numpy   # and/or torch
    /tmp/rockvenv/bin/python bench/bench_rockpool.py [--batch 64] [--steps 200] [--repeats 5] [--budget 20] [--json]

Workload as in `bench/chip_workload.py`: N neurons with `fan_in` random sources each
(inputs or neurons; 80 % excitatory), M Poisson inputs at 20 Hz, B independent networks
run as one batch. Rockpool holds the connections as dense matrices, as its simulators do:

* LIFJax: 4 synapse types per neuron (shape (4 N, N)), input and recurrent weights;
* DynapSim: Rockpool's DYNAP-SE simulator (one combined synapse per neuron in 3.1.0),
  behind a LinearJax input layer;
* LIFTorch: LIFJax's network on Rockpool's Torch backend (float32, no gradients).

Each model is compiled (JAX: jit) and run once on the full input before it is timed; its
rate is that of the fastest of up to `--repeats` timed samples (back-to-back runs for at
least 0.25 s each), fewer once they have taken `--budget` seconds (at least two):
bench/best_of.py, the rule bench_chip.py times the vc1 kernels by.
`bench/bench_chip.py --rockpool-python /tmp/rockvenv/bin/python` puts these rows next to
the vc1 kernels, measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
import warnings

import numpy as np
from best_of import best_of  # bench/best_of.py: this script's directory is on sys.path

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)  # Rockpool warns about missing optional hardware packages

from rockpool.nn.combinators import Sequential  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    from rockpool.devices.dynapse import DynapSim
    from rockpool.nn.modules import LIFJax, LinearJax
except ImportError:  # no JAX here: the Torch model only
    jax = None
try:
    import torch
    from rockpool.nn.modules import LIFTorch, LinearTorch
except ImportError:  # no Torch here: the JAX models only
    torch = None

TYPE_P = (0.5, 0.3, 0.1, 0.1)      # AMPA, NMDA, GABA_A, GABA_B, as in chip_workload
TYPE_SIGN = np.array([1.0, 1.0, -1.0, -1.0])


def cam_weights(n: int, m: int, fan_in: int, scale: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Input [M, 4, N] and recurrent [N, 4, N] signed counts of a random CAM, times `scale`."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, m + n, (n, fan_in))
    kind = rng.choice(4, (n, fan_in), p=TYPE_P)
    weights = np.zeros((m + n, 4, n))
    np.add.at(weights, (source, kind, np.arange(n)[:, None]), scale * TYPE_SIGN[kind])
    return weights[:m], weights[m:]


def lif_jax(n: int, m: int, fan_in: int) -> Sequential:
    w_in, w_rec = (w.transpose(0, 2, 1).reshape(len(w), 4 * n)  # LIFJax inputs are neuron-major: i · 4 + k
                   for w in cam_weights(n, m, fan_in, scale=0.004))
    tau_syn = np.tile([0.006, 0.04, 0.006, 0.04], (n, 1))
    return Sequential(LinearJax((m, 4 * n), weight=jnp.asarray(w_in, jnp.float32)),
                      LIFJax((4 * n, n), tau_mem=0.025, tau_syn=jnp.asarray(tau_syn, jnp.float32), bias=0.026,
                             threshold=1.0, max_spikes_per_dt=1.0, has_rec=True,
                             w_rec=jnp.asarray(w_rec, jnp.float32)))


def dynap_sim(n: int, m: int, fan_in: int) -> Sequential:
    w_in, w_rec = cam_weights(n, m, fan_in, scale=1.0)
    return Sequential(LinearJax((m, n), weight=jnp.asarray(w_in.sum(axis=1), jnp.float32)),
                      DynapSim(n, has_rec=True, w_rec=jnp.asarray(w_rec.sum(axis=1), jnp.float32)))


def lif_torch(n: int, m: int, fan_in: int) -> Sequential:
    w_in, w_rec = (w.transpose(0, 2, 1).reshape(len(w), 4 * n) for w in cam_weights(n, m, fan_in, scale=0.004))
    tau_syn = np.tile([0.006, 0.04, 0.006, 0.04], (n, 1)).reshape(4 * n)
    return Sequential(LinearTorch((m, 4 * n), weight=torch.tensor(w_in, dtype=torch.float32)),
                      LIFTorch((4 * n, n), tau_mem=0.025, tau_syn=torch.tensor(tau_syn, dtype=torch.float32),
                               bias=0.026, threshold=1.0, max_spikes_per_dt=1.0, has_rec=True,
                               w_rec=torch.tensor(w_rec, dtype=torch.float32)))


MODELS = {**({"LIFJax": lif_jax, "DynapSim": dynap_sim} if jax is not None else {}),
          **({"LIFTorch": lif_torch} if torch is not None else {})}


def _evolve(name: str, module, x):
    """Output spikes of model `name` on x, finished (JAX models jitted)."""
    if name == "LIFTorch":
        with torch.no_grad():
            return module(x, record=False)[0]
    return _evolve_jax(module, x).block_until_ready()


if jax is not None:
    @jax.jit
    def _evolve_jax(module, x):
        spikes, _, _ = module(x, record=False)
        return spikes


def time_model(name: str, x: np.ndarray, n: int, fan_in: int, repeats: int, budget_s: float) -> dict:
    """Compile (first call) and time (the fastest sample of further calls, as `best_of` makes
    them) one model on inputs x [B, T, M]."""
    module = MODELS[name](n, x.shape[-1], fan_in)
    xj = torch.tensor(x) if name == "LIFTorch" else jnp.asarray(x)
    start = time.perf_counter()
    _evolve(name, module, xj)
    compile_s = time.perf_counter() - start
    elapsed, samples, spikes = best_of(lambda: np.asarray(_evolve(name, module, xj)), repeats, budget_s)
    return {"model": name, "neuron_steps_per_s": x.shape[0] * x.shape[1] * n / elapsed, "samples": samples,
            "rate_hz": float(spikes.mean() * 1000), "compile_s": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=1024)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--fan-in", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--input-rate", type=float, default=20.0, help="Hz")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed samples per model at most (the fastest is shown)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds of timed samples after which a model stops (after at least two)")
    parser.add_argument("--json", action="store_true", help="one JSON object per model (for bench_chip.py)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    rng = np.random.default_rng(1)
    x = (rng.random((args.batch, args.steps, args.inputs)) < args.input_rate / 1000).astype(np.float32)
    for name in args.models.split(","):
        row = time_model(name, x, args.neurons, args.fan_in, args.repeats, args.budget)
        print(json.dumps(row) if args.json else
              f"rockpool {name:9} B={args.batch:<5} {row['neuron_steps_per_s']:.3e} neuron-steps/s "
              f"rate {row['rate_hz']:.1f} Hz  (fastest of {row['samples']} samples; compile {row['compile_s']:.1f} s)",
              flush=True)


if __name__ == "__main__":
    main()
