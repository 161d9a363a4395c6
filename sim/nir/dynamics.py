"""Step a `NirModel` on inputs [samples, T, n_in]: the float network as its NIR graph means it.

Within a step, layers update in order; a layer's input x is its bias plus, over its
connections, the source's output of this step (or of the previous step for a delayed
connection) times the weight. A spiking layer outputs spikes (v > v_threshold), an LI or
CubaLI layer its state v. Two conventions for the per-step update (h = dt):

`euler` (the NIR paper's NumPy reference, forward Euler; the default):
    I ← I + h/τ_syn·(w_in·x − I)                         (CubaLIF, CubaLI)
    v ← v + h/τ_mem·(v_leak − v + r·I_old)               (CubaLIF, CubaLI: the current of the
    v ← v + h/τ·(v_leak − v + r·x)   (LIF, LI)            previous step drives v)
    v ← v + h·r·x                    (IF)
    s = v > v_threshold, then at once v ← v − v_threshold·s (reset subtract) or v_reset (zero)

`snntorch` (what snnTorch computes for its exports, whose r and w_in bake in its dt):
    the current updates first and the new current drives v; the reset belongs to the previous
    step's spike: v ← v + h/τ·(...) − v_threshold·s_prev (subtract, after the decay) or
    v ← v_reset where s_prev before the update (zero), then s = v > v_threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.nir.errors import NirError
from sim.nir.model import INPUT, Layer, NirModel


@dataclass
class Trace:
    spikes: np.ndarray   # [S, T, n_spiking] uint8: every spiking layer's neurons, in layer order
    outputs: np.ndarray  # [S, T, n_out]: the Output layer's spikes or state


class _State:
    """One layer's state over a batch of samples."""

    def __init__(self, layer: Layer, samples: int) -> None:
        self.layer = layer
        self.v = np.zeros((samples, layer.size)) + layer.params.get("v_leak", 0.0)  # at rest
        self.i = np.zeros((samples, layer.size))
        self.s = np.zeros((samples, layer.size))
        self.p = layer.params

    def step(self, x: np.ndarray, dt: float, reset: str, convention: str) -> np.ndarray:
        p, kind = self.p, self.layer.kind
        before = self.i
        if kind in ("CubaLIF", "CubaLI"):
            self.i = self.i + dt / p["tau_syn"] * (p["w_in"] * x - self.i)
            drive = p["r"] * (self.i if convention == "snntorch" else before)
        else:
            drive = p["r"] * x
        spiking = self.layer.spiking
        late = spiking and convention == "snntorch"
        if late and reset == "zero":
            self.v = self._reset(self.v, self.s, reset)
        if kind == "IF":
            self.v = self.v + dt * drive
        else:
            tau = p["tau_mem"] if kind in ("CubaLIF", "CubaLI") else p["tau"]
            self.v = self.v + dt / tau * (p["v_leak"] - self.v + drive)
        if late and reset == "subtract":
            self.v = self._reset(self.v, self.s, reset)
        if not spiking:
            return self.v
        self.s = (self.v > p["v_threshold"]).astype(np.float64)
        if convention == "euler":
            self.v = self._reset(self.v, self.s, reset)
        return self.s

    def _reset(self, v: np.ndarray, s: np.ndarray, reset: str) -> np.ndarray:
        if reset == "subtract":
            return v - s * self.p["v_threshold"]
        return np.where(s > 0, self.p["v_reset"], v)


def run(model: NirModel, inputs: np.ndarray) -> Trace:
    """Spikes of every spiking neuron and the Output's values for `inputs` [S, T, n_in]."""
    x = np.asarray(inputs, np.float64)
    if x.ndim != 3 or x.shape[2] != model.n_in:
        raise NirError(f"inputs must be [samples, T, {model.n_in}], got shape {x.shape}")
    samples, steps, _ = x.shape
    states = [_State(layer, samples) for layer in model.layers]
    now = [np.zeros((samples, layer.size)) for layer in model.layers]
    spiking = model.spiking_layers
    spikes = np.zeros((samples, steps, model.n_spiking), np.uint8)
    outputs = np.zeros((samples, steps, model.layers[model.output].size))
    into = [[c for c in model.connections if c.target == k] for k in range(len(model.layers))]
    for t in range(steps):
        before = [a.copy() for a in now]
        for k, state in enumerate(states):
            total = np.broadcast_to(model.layers[k].bias, (samples, model.layers[k].size)).copy()
            for c in into[k]:
                source = x[:, t] if c.source == INPUT else (before if c.delayed else now)[c.source]
                total += source @ c.weight
            now[k] = state.step(total, model.dt, model.reset, model.convention)
        if spiking:
            spikes[:, t] = np.concatenate([now[k] for k in spiking], axis=1)
        outputs[:, t] = now[model.output]
    return Trace(spikes, outputs)
