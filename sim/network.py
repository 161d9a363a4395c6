"""The float spiking network that every training method produces and the compiler reads.

One leaky integrate-and-fire population with two recurrent synapse classes (fast and
slow, exponential currents), a direct input current and a low-pass filtered readout.
Per step of dt = 1 ms (`sim.lif.simulate` implements exactly this):

    I      = i_fast + i_slow + c_t @ w_in + bias (+ noise)
    v      = v + dt / tau_mem * (v_rest - v + I)
    s      = v >= v_th;  v[s] = v_reset
    i_fast = i_fast * exp(-dt / tau_fast) + (s @ w_fast) / tau_fast
    i_slow = i_slow * exp(-dt / tau_slow) + (s @ w_slow) / tau_slow
    r      = r * exp(-dt / tau_out) + s / tau_out
    y      = r @ w_out

Network ADS, BPTT-trained LIF, FORCE and the liquid-state reservoir are all networks of
this form (FORCE folds its output feedback into `w_slow`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

ARRAY_FIELDS = ("tau_mem", "tau_fast", "tau_slow", "v_th", "v_rest", "bias",
                "w_in", "w_fast", "w_slow", "w_out")


class NetworkError(ValueError):
    """A network's arrays are missing, mis-shaped or not finite."""


@dataclass
class SpikingNetwork:
    """Parameters of a trained float spiking network (times in ms, dt = 1 ms)."""

    tau_mem: np.ndarray   # [N]
    tau_fast: np.ndarray  # [N]
    tau_slow: np.ndarray  # [N]
    v_th: np.ndarray      # [N]
    v_rest: np.ndarray    # [N]
    bias: np.ndarray      # [N] constant input current
    w_in: np.ndarray      # [n_in, N]
    w_fast: np.ndarray    # [N, N] pre -> post
    w_slow: np.ndarray    # [N, N] pre -> post
    w_out: np.ndarray     # [N, n_out]
    v_reset: float = 0.0
    tau_out: float = 70.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ARRAY_FIELDS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        self.validate()

    @property
    def n_neurons(self) -> int:
        return int(self.tau_mem.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.w_in.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.w_out.shape[1])

    def validate(self) -> None:
        """Raise NetworkError naming the first field with a wrong shape or value."""
        n = self.tau_mem.shape[0] if self.tau_mem.ndim == 1 else -1
        if n <= 0:
            raise NetworkError(f"tau_mem must be a non-empty vector, got shape {self.tau_mem.shape}")
        expected = {
            "tau_fast": (n,), "tau_slow": (n,), "v_th": (n,), "v_rest": (n,), "bias": (n,),
            "w_fast": (n, n), "w_slow": (n, n),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise NetworkError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        if self.w_in.ndim != 2 or self.w_in.shape[1] != n:
            raise NetworkError(f"w_in has shape {self.w_in.shape}, expected (n_in, {n})")
        if self.w_out.ndim != 2 or self.w_out.shape[0] != n:
            raise NetworkError(f"w_out has shape {self.w_out.shape}, expected ({n}, n_out)")
        for name in ARRAY_FIELDS:
            if not np.all(np.isfinite(getattr(self, name))):
                raise NetworkError(f"{name} contains NaN or infinite values")
        for name in ("tau_mem", "tau_fast", "tau_slow"):
            if np.any(getattr(self, name) <= 0):
                raise NetworkError(f"{name} must be > 0 ms")
        if self.tau_out <= 0:
            raise NetworkError("tau_out must be > 0 ms")

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    def scalars(self) -> dict[str, float]:
        return {"v_reset": float(self.v_reset), "tau_out": float(self.tau_out)}

    def replace(self, **changes: Any) -> "SpikingNetwork":
        """A copy with some fields replaced."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["meta"] = dict(self.meta)
        values.update(changes)
        return SpikingNetwork(**values)


def strongest_inputs(w: np.ndarray, fan_in: int) -> np.ndarray:
    """Mask of each column's (post-neuron's) `fan_in` largest |w| among its nonzero entries:
    the inputs a neuron keeps when it has room for `fan_in` of them (a chip's CAM slots)."""
    rank = np.argsort(np.argsort(-np.abs(w), axis=0, kind="stable"), axis=0, kind="stable")
    return (rank < fan_in) & (w != 0)
