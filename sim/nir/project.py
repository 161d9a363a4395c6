"""Between a `NirModel` and the project's `SpikingNetwork` (one LIF population, fast and slow
exponential synapses, filtered-spike readout; one NIR step = one 1 ms network step).

`to_network` is what the compiler, deploy, robustness and calibration see of an imported
graph; it is exact for the graphs `from_network` writes and an approximation otherwise
(`approximations` lists what was approximated, and it is recorded in the network's metadata):
- every spiking layer's neurons join the one population (tau_mem in steps = τ/dt; IF: no leak
  is a 10⁶-step leak); reset by subtraction becomes reset to v_reset; spikes between layers
  arrive one step later; an input into a CubaLIF synapse becomes the steady current r·w_in·x;
- spikes into a CubaLIF travel on its synapse (per-step decay 1 − dt/τ_syn); spikes into a
  LIF or IF on a short synapse (τ = 0.25 steps) carrying the same charge; an LI layer between
  spiking layers (one neuron per target, v_leak folded into the bias) is a synapse of its own;
  at most two synapse time constants per layer, the shorter becomes the fast synapse and the
  longer the slow one;
- a spiking Output layer is read by spike count (w_out = identity on its neurons, τ_out one
  step, so the task decides by the argmax of counts); an LI readout by its state
  (τ_out from its τ, w_out from its weights; a CubaLI readout loses its synaptic filter).
"""
from __future__ import annotations

import numpy as np

from sim.network import SpikingNetwork
from sim.nir.errors import NirError
from sim.nir.model import INPUT, Connection, Layer, NirModel

NO_LEAK_STEPS = 1e6     # tau_mem of an IF neuron in the network form
ONE_STEP_TAU = 0.25     # tau (steps) of the synapse standing for a direct spike input
COUNT_TAU_OUT = 1.0     # tau_out (steps) of a spike-count readout
DT_MS = 1.0             # the network's step


def step_tau(decay: np.ndarray) -> np.ndarray:
    """The exponential time constant (steps) of a per-step decay factor."""
    return -1.0 / np.log(decay)


def _decay(dt: float, tau: np.ndarray) -> np.ndarray:
    return 1.0 - dt / tau


class _Target:
    """A spiking layer in network form: where its neurons sit and how currents reach v."""

    def __init__(self, model: NirModel, k: int, offset: int) -> None:
        layer, dt = model.layers[k], model.dt
        p = layer.params
        self.layer, self.offset = layer, offset
        self.index = np.arange(offset, offset + layer.size)
        if layer.kind == "IF":
            self.tau_mem = np.full(layer.size, NO_LEAK_STEPS)
            gain = NO_LEAK_STEPS * dt * p["r"]  # v += dt·r·x = (1/τm)·(τm·dt·r·x)
        else:
            self.tau_mem = (p["tau_mem"] if layer.kind == "CubaLIF" else p["tau"]) / dt
            gain = p["r"]
        self.v_rest = p.get("v_leak", np.zeros(layer.size))
        # current per unit of NIR input x at steady state
        self.steady = gain * p["w_in"] if layer.kind == "CubaLIF" else gain
        if layer.kind == "CubaLIF":  # spikes on its own synapse
            self.own_tau = step_tau(_decay(dt, p["tau_syn"]))
            self.own_kick = gain * dt / p["tau_syn"] * p["w_in"]  # current per unit x, first step
        else:  # a short synapse delivering the one-step charge steady·x
            self.own_tau = np.full(layer.size, ONE_STEP_TAU)
            self.own_kick = self.steady * -np.expm1(-1.0 / ONE_STEP_TAU)


def to_network(model: NirModel) -> tuple[SpikingNetwork, list[str]]:
    """The network form of `model` and the list of approximations made (empty: exact)."""
    notes: list[str] = []
    spiking = model.spiking_layers
    offsets = np.cumsum([0] + [model.layers[k].size for k in spiking])
    targets = {k: _Target(model, k, int(offsets[i])) for i, k in enumerate(spiking)}
    n, dt = int(offsets[-1]), model.dt
    if n == 0:
        raise NirError("the graph has no spiking layer (LIF, CubaLIF or IF) to place on chip neurons")
    out_layer = model.layers[model.output]
    synapse_layers = {k for k, layer in enumerate(model.layers) if not layer.spiking and k != model.output}
    w_in, bias = np.zeros((model.n_in, n)), np.zeros(n)
    tau_mem, v_rest, v_th = np.zeros(n), np.zeros(n), np.zeros(n)
    classes: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in spiking}  # (tau [n_k], w [N, n_k])
    for k, tgt in targets.items():
        idx = tgt.index
        tau_mem[idx], v_rest[idx] = tgt.tau_mem, tgt.v_rest
        v_th[idx] = tgt.layer.params["v_threshold"]
        bias[idx] = tgt.steady * tgt.layer.bias
        own = np.zeros((n, tgt.layer.size))
        for c in (c for c in model.connections if c.target == k):
            if c.source == INPUT:
                w_in[:, idx] += c.weight * tgt.steady
                if tgt.layer.kind == "CubaLIF":
                    _note(notes, "inputs into a CubaLIF synapse act as a steady current (no synaptic filter)")
            elif c.source in targets:
                own[targets[c.source].index] += c.weight * tgt.own_kick * tgt.own_tau
                if not c.delayed:
                    _note(notes, "spikes between layers arrive one step later")
            elif c.source in synapse_layers:
                classes[k].append(_li_synapse(model, c, targets, tgt, bias, n))
            else:
                raise NirError(f"node {model.layers[c.source].name!r} ({model.layers[c.source].kind}) feeds "
                               f"{tgt.layer.name!r}; only inputs, spiking layers and LI synapse layers may")
        if np.any(own):
            classes[k].insert(0, (tgt.own_tau, own))
        if tgt.layer.kind == "IF":
            _note(notes, "IF neurons get a 10^6-step leak")
    for k in synapse_layers:
        if not any(c.source == k for c in model.connections):
            raise NirError(f"node {model.layers[k].name!r} ({model.layers[k].kind}) is neither the Output nor "
                           "a synapse between spiking layers")
    tau_fast, tau_slow = np.ones(n), np.ones(n)
    w_fast, w_slow = np.zeros((n, n)), np.zeros((n, n))
    for k, found in classes.items():
        idx = targets[k].index
        if len(found) > 2:
            raise NirError(f"node {model.layers[k].name!r}: its inputs need {len(found)} synapse time constants; "
                           "vc1 neurons have two (fast and slow)")
        found.sort(key=lambda f: float(np.mean(f[0])))
        if found:
            tau_fast[idx], w_fast[:, idx] = found[0]
            tau_slow[idx] = found[0][0]
        if len(found) == 2:
            tau_slow[idx], w_slow[:, idx] = found[1]
    reset = _v_reset(model, targets, notes)
    w_out, tau_out = _readout(model, targets, n, notes)
    net = SpikingNetwork(tau_mem=tau_mem, tau_fast=tau_fast, tau_slow=tau_slow, v_th=v_th, v_rest=v_rest,
                         bias=bias, w_in=w_in, w_fast=w_fast, w_slow=w_slow, w_out=w_out, v_reset=reset,
                         tau_out=tau_out)
    if out_layer.spiking:
        _note(notes, "the spiking Output layer is read by its filtered spikes (tau_out 1 step): argmax of counts")
    return net, notes


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def _li_synapse(model: NirModel, c: Connection, targets: dict[int, _Target], tgt: _Target, bias: np.ndarray,
                n: int) -> tuple[np.ndarray, np.ndarray]:
    """(tau [n_k], w [N, n_k]) of an LI layer acting as a synapse onto `tgt`."""
    layer, dt = model.layers[c.source], model.dt
    name = f"node {layer.name!r} ({layer.kind})"
    if layer.kind != "LI" or c.delayed or layer.size != tgt.layer.size or np.count_nonzero(
            c.weight - np.diag(np.diag(c.weight))):
        raise NirError(f"{name} feeds {tgt.layer.name!r}: a synapse layer must be an LI layer feeding one target "
                       "neuron each (a diagonal weight)")
    feeds = [d for d in model.connections if d.source == c.source]
    if len(feeds) != 1:
        raise NirError(f"{name}: a synapse layer must feed exactly one layer")
    p, d = layer.params, np.diag(c.weight)
    tau = step_tau(_decay(dt, p["tau"]))
    w = np.zeros((n, layer.size))
    for e in (e for e in model.connections if e.target == c.source):
        if e.source not in targets:
            raise NirError(f"{name}: a synapse layer must be fed by spiking layers only")
        w[targets[e.source].index] += e.weight * (dt / p["tau"] * p["r"]) * tau
    scale = d * tgt.steady
    bias[tgt.index] += scale * (p["v_leak"] + p["r"] * layer.bias)
    return tau, w * scale


def _v_reset(model: NirModel, targets: dict[int, _Target], notes: list[str]) -> float:
    levels = np.concatenate([t.layer.params["v_reset"] for t in targets.values()])
    if model.reset == "subtract":
        _note(notes, "reset by subtraction becomes reset to v_reset")
    if np.ptp(levels) > 0:
        _note(notes, "per-neuron v_reset becomes their mean")
    return float(levels.mean())


def _readout(model: NirModel, targets: dict[int, _Target], n: int, notes: list[str]) -> tuple[np.ndarray, float]:
    """(w_out [N, n_out], tau_out in steps) reading the Output layer."""
    layer, dt = model.layers[model.output], model.dt
    if layer.spiking:
        w_out = np.zeros((n, layer.size))
        w_out[targets[model.output].index, np.arange(layer.size)] = 1.0
        return w_out, COUNT_TAU_OUT
    p = layer.params
    tau = p["tau_mem"] if layer.kind == "CubaLI" else p["tau"]
    if layer.kind == "CubaLI":
        _note(notes, "the CubaLI readout loses its synaptic filter")
    taus = step_tau(_decay(dt, tau))
    if np.ptp(taus) > 0:
        _note(notes, "per-unit readout time constants become their mean")
    tau_out = float(np.mean(taus))
    gain = dt / tau * p["r"] * (p["w_in"] if layer.kind == "CubaLI" else 1.0) * tau_out
    w_out = np.zeros((n, layer.size))
    for c in (c for c in model.connections if c.target == model.output):
        if c.source not in targets:
            raise NirError(f"node {layer.name!r} ({layer.kind}): the readout must be fed by spiking layers only")
        w_out[targets[c.source].index] += c.weight * gain
    if np.any(p["v_leak"]) or np.any(layer.bias):
        _note(notes, "the readout's v_leak and bias (constant offsets) are dropped")
    return w_out, tau_out


def from_network(net: SpikingNetwork) -> NirModel:
    """`net` as a NIR model (dt = 1 ms, reset to v_reset, euler): a LIF layer `lif`, LI synapse
    layers `syn_fast` / `syn_slow` (per-step decay e^(−1/τ), kick w/τ) and an LI readout
    `readout` (τ_out). `to_network` of it gives `net` back (to rounding)."""
    dt = DT_MS * 1e-3
    n = net.n_neurons
    synapses = [(name, tau, w) for name, tau, w in (("syn_fast", net.tau_fast, net.w_fast),
                                                     ("syn_slow", net.tau_slow, net.w_slow)) if np.any(w)]
    lif = len(synapses)  # synapse layers come first: they drive the LIF layer within the step
    layers = [Layer(name, "LI", _filter_params(tau, dt), np.zeros(n)) for name, tau, _ in synapses]
    layers.append(Layer("lif", "LIF", {"tau": net.tau_mem * dt, "r": np.ones(n), "v_leak": net.v_rest.copy(),
                                       "v_threshold": net.v_th.copy(), "v_reset": np.full(n, float(net.v_reset))},
                        net.bias.copy()))
    layers.append(Layer("readout", "LI", _filter_params(np.full(net.n_out, net.tau_out), dt), np.zeros(net.n_out)))
    connections = [Connection(INPUT, lif, net.w_in.copy(), False), Connection(lif, lif + 1, net.w_out.copy(), False)]
    for k, (_, _, w) in enumerate(synapses):
        connections += [Connection(lif, k, w.copy(), True), Connection(k, lif, np.eye(n), False)]
    return NirModel(net.n_in, layers, connections, lif + 1, dt, "zero", "euler")


def _filter_params(tau_steps: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """LI parameters whose Euler step is x ← x·e^(−1/τ) + input/τ (τ in steps)."""
    lost = -np.expm1(-1.0 / tau_steps)  # 1 − e^(−1/τ) = dt/τ_LI
    return {"tau": dt / lost, "r": 1.0 / (tau_steps * lost), "v_leak": np.zeros(tau_steps.size)}
