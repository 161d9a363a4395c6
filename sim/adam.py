"""Adam over a dict of arrays with global gradient-norm clipping (teacher and BPTT-LIF)."""
from __future__ import annotations

from typing import Any


class Adam:
    """Adam; `lr` is one step size or one per parameter name."""

    def __init__(self, params: dict[str, Any], lr: float | dict[str, float], clip: float, xp: Any,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.lr, self.clip, self.xp, self.betas, self.eps = lr, clip, xp, betas, eps
        self.m = {k: xp.zeros_like(v) for k, v in params.items()}
        self.v = {k: xp.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict[str, Any], grads: dict[str, Any]) -> float:
        """Update `params` in place; returns the gradient norm before clipping."""
        xp = self.xp
        norm = float(xp.sqrt(sum(float((g ** 2).sum()) for g in grads.values())))
        scale = min(1.0, self.clip / norm) if norm > 0 else 1.0
        self.t += 1
        b1, b2 = self.betas
        for k, g in grads.items():
            g = g * scale
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            lr = self.lr[k] if isinstance(self.lr, dict) else self.lr
            params[k] -= lr * m_hat / (xp.sqrt(v_hat) + self.eps)
        return norm
