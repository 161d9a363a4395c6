"""`NirModel`: a NIR graph reduced to neuron layers and the weight matrices between them.

Every stateless node (Linear, Affine, Scale, identities, subgraph ports) is folded into the
connections, so a model is: the graph input (n_in values), neuron layers (LIF, CubaLIF, IF,
LI, CubaLI) with per-neuron parameters and a constant input `bias`, weighted connections
(source → target, `delayed` when the edge closes a cycle: it carries the previous step's
spikes), and the layer the graph's Output reads. Parameters keep NIR's units (seconds,
the exporter's r and w_in); `dt`, the reset mode and the update convention say how to
step them (`sim.nir.dynamics`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.nir.errors import NirError

INPUT = -1  # connection source: the graph's input
PARAMS: dict[str, tuple[str, ...]] = {
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "IF": ("r", "v_threshold", "v_reset"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
}
SPIKING = ("LIF", "CubaLIF", "IF")
RESETS = ("subtract", "zero")
CONVENTIONS = ("euler", "snntorch")


@dataclass
class Layer:
    name: str                       # the NIR node's (flattened) name
    kind: str                       # a key of PARAMS
    params: dict[str, np.ndarray]   # each [n], float64
    bias: np.ndarray                # [n] constant input (Affine biases that reach the layer)

    @property
    def size(self) -> int:
        return int(self.bias.size)

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING


@dataclass
class Connection:
    source: int          # layer index, or INPUT
    target: int          # layer index
    weight: np.ndarray   # [n_source, n_target]
    delayed: bool        # carries the source's previous-step output (closes a cycle)


@dataclass
class NirModel:
    n_in: int
    layers: list[Layer]          # in an order where every undelayed connection goes forward
    connections: list[Connection]
    output: int                  # the layer the graph's Output reads
    dt: float                    # seconds per step
    reset: str = "subtract"      # RESETS
    convention: str = "euler"    # CONVENTIONS
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_discretisation(self.dt, self.reset, self.convention)
        self.connections = sorted(self.connections, key=lambda c: (c.target, c.source, c.delayed))

    @property
    def spiking_layers(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if layer.spiking]

    @property
    def n_spiking(self) -> int:
        return sum(self.layers[i].size for i in self.spiking_layers)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record (floats kept exactly: JSON writes their shortest repr)."""
        return {"n_in": self.n_in, "output": self.output, "dt": self.dt, "reset": self.reset,
                "convention": self.convention, "meta": self.meta,
                "layers": [{"name": x.name, "kind": x.kind, "bias": x.bias.tolist(),
                            "params": {k: v.tolist() for k, v in x.params.items()}} for x in self.layers],
                "connections": [{"source": c.source, "target": c.target, "delayed": c.delayed,
                                 "weight": c.weight.tolist()} for c in self.connections]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NirModel":
        try:
            layers = [Layer(x["name"], x["kind"], {k: np.asarray(v, np.float64) for k, v in x["params"].items()},
                            np.asarray(x["bias"], np.float64)) for x in data["layers"]]
            connections = [Connection(int(c["source"]), int(c["target"]),
                                      np.asarray(c["weight"], np.float64).reshape(
                                          data["n_in"] if c["source"] == INPUT else len(layers[c["source"]].bias),
                                          len(layers[c["target"]].bias)), bool(c["delayed"]))
                           for c in data["connections"]]
            return cls(int(data["n_in"]), layers, connections, int(data["output"]), float(data["dt"]),
                       str(data["reset"]), str(data["convention"]), dict(data.get("meta") or {}))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise NirError(f"corrupted NIR record in the network's metadata ({exc!r})") from None

    def with_convention(self, convention: str) -> "NirModel":
        check_discretisation(self.dt, self.reset, convention)
        return NirModel(self.n_in, self.layers, self.connections, self.output, self.dt, self.reset, convention,
                        dict(self.meta))

    def same_as(self, other: "NirModel") -> bool:
        """Same structure, parameters and discretisation, bit for bit (`meta` aside)."""
        return {**self.to_dict(), "meta": None} == {**other.to_dict(), "meta": None}


def check_discretisation(dt: float, reset: str, convention: str) -> None:
    """NirError naming the first bad discretisation choice."""
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise NirError(f"dt must be a positive number of seconds, got {dt!r}")
    if reset not in RESETS:
        raise NirError(f"unknown reset {reset!r}: choose {' or '.join(RESETS)}")
    if convention not in CONVENTIONS:
        raise NirError(f"unknown convention {convention!r}: choose {' or '.join(CONVENTIONS)}")
