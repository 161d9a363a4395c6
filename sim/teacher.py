"""The rate teacher: a continuous-time tanh RNN trained by hand-written BPTT with Adam.

Dynamics (Euler, dt = 1 ms, per-unit time constants):

    x_{t+1} = x_t + dt/τ ⊙ (−x_t + c_t F + tanh(x_t) Ω + b)
    y_t     = x_{t+1} W_out

The readout is *linear in the latent x* (no tanh, no bias) so that a spiking network
that reproduces x reproduces the task output exactly through the same `W_out` (see
`sim.ads`). τ is fixed per unit, drawn log-uniformly from `tau_range` (not trained):
the spread of time constants gives the network short and long memories at no cost in
the backward pass. Loss: masked MSE to the task targets. Training: minibatches, Adam,
global gradient-norm clipping, early stopping on the validation loss (best parameters
kept). `loss_and_grads` is exposed for the finite-difference check.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from sim.adam import Adam
from sim.backend import Backend, get_backend
from sim.tasks.base import Dataset, Task

DT_MS = 1.0
PARAM_NAMES = ("w_in", "w_rec", "bias", "w_out")


@dataclass
class TeacherParams:
    """Host (NumPy) parameters of a rate teacher."""

    w_in: np.ndarray   # F [n_in, d]
    w_rec: np.ndarray  # Ω [d, d]
    bias: np.ndarray   # b [d]
    w_out: np.ndarray  # W_out [d, n_out]
    tau: np.ndarray    # [d] ms, fixed
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_hidden(self) -> int:
        return int(self.tau.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in PARAM_NAMES}


def init_teacher(n_in: int, n_hidden: int, n_out: int, seed: int = 0, gain: float = 1.2,
                 tau_range: tuple[float, float] = (20.0, 200.0), input_scale: float = 1.0) -> TeacherParams:
    """Random initial parameters: Ω ~ N(0, gain²/d), F ~ N(0, input_scale²), small W_out."""
    rng = np.random.default_rng(seed)
    lo, hi = np.log(tau_range[0]), np.log(tau_range[1])
    return TeacherParams(
        w_in=rng.normal(0.0, input_scale, (n_in, n_hidden)),
        w_rec=rng.normal(0.0, gain / np.sqrt(n_hidden), (n_hidden, n_hidden)),
        bias=np.zeros(n_hidden),
        w_out=rng.normal(0.0, 0.1 / np.sqrt(n_hidden), (n_hidden, n_out)),
        tau=np.exp(rng.uniform(lo, hi, n_hidden)),
    )


def _project(a: Any, w: Any, xp: Any) -> Any:
    """a [..., k] @ w [k, m] for few k (inputs, outputs): einsum, several times faster than
    BLAS on these shapes (result laid out like `a`)."""
    return xp.einsum("...k,km->...m", a, w, optimize=True)


def _trajectory(params: dict[str, Any], tau: Any, inputs: Any, xp: Any) -> tuple[Any, Any]:
    """Time-major [T, S, d] latents x_1 .. x_T and h_t = tanh(x_t) for x_0 .. x_{T−1} (x_0 = 0):
    x_{t+1} = (1 − α)x_t + α(c_t F + b) + h_t (Ω diag α), α = dt/τ."""
    alpha = DT_MS / tau
    keep, w_rec = 1.0 - alpha, params["w_rec"] * alpha
    inputs = xp.ascontiguousarray(inputs.transpose(1, 0, 2))  # time-major, so the arrays below are too
    xs = xp.ascontiguousarray(_project(inputs, params["w_in"] * alpha, xp) + params["bias"] * alpha)
    hs = xp.empty_like(xs)  # xs[t] holds the drive α(c_t F + b) until step t writes x_{t+1} there
    x = xp.zeros_like(xs[0])
    for t in range(xs.shape[0]):
        xp.tanh(x, out=hs[t])
        x = xs[t] = keep * x + xs[t] + hs[t] @ w_rec
    return xs, hs


def forward(params: dict[str, Any], tau: Any, inputs: Any, xp: Any = np) -> tuple[Any, Any]:
    """Latent trajectory x [S, T, d] (x_1 .. x_T) and outputs y [S, T, n_out]."""
    xs = _trajectory(params, tau, inputs, xp)[0].transpose(1, 0, 2)
    return xs, xp.matmul(xs, params["w_out"])


def masked_mse(outputs: Any, data_targets: Any, mask: Any) -> tuple[float, Any]:
    """Mean squared error over masked steps and outputs; also dL/d outputs."""
    m = mask[..., None].astype(outputs.dtype)
    denom = max(float(m.sum()) * outputs.shape[-1], 1.0)
    diff = (outputs - data_targets) * m
    return float((diff ** 2).sum()) / denom, 2.0 * diff / denom


def loss_and_grads(params: dict[str, Any], tau: Any, inputs: Any, targets: Any, mask: Any,
                   xp: Any = np) -> tuple[float, dict[str, Any]]:
    """Masked-MSE loss and its exact gradient by backpropagation through time (time-major inside)."""
    xs, h = _trajectory(params, tau, inputs, xp)
    loss, d_y = masked_mse(xp.matmul(xs, params["w_out"]), targets.transpose(1, 0, 2), mask.T)
    alpha = DT_MS / tau
    keep = 1.0 - alpha
    n_steps, n_samples, _ = xs.shape
    slope = 1.0 - h ** 2
    d_z = _project(d_y, params["w_out"].T, xp)  # dL/dx_{t+1} from the readout, then dL/dz_t (z_t the bracket)
    delta = xp.zeros_like(xs[0])
    w_rec_t = params["w_rec"].T
    for t in range(n_steps - 1, -1, -1):
        delta = delta + d_z[t]
        dz = d_z[t] = delta * alpha
        delta = keep * delta + (dz @ w_rec_t) * slope[t]
    flat = lambda a: a.reshape(n_steps * n_samples, a.shape[-1])  # noqa: E731
    grads = {
        "w_in": flat(inputs.transpose(1, 0, 2)).T @ flat(d_z),
        "w_rec": flat(h).T @ flat(d_z),
        "bias": flat(d_z).sum(axis=0),
        "w_out": flat(xs).T @ flat(d_y),
    }
    return loss, grads


@dataclass
class TeacherConfig:
    n_hidden: int = 64
    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3
    clip: float = 1.0
    patience: int = 10
    gain: float = 1.2
    input_scale: float = 1.0
    tau_range: tuple[float, float] = (20.0, 200.0)


TEACHER_DEFAULTS = {
    "xor": TeacherConfig(n_hidden=64, epochs=25, lr=1e-2, patience=5),
    "keyword": TeacherConfig(n_hidden=128, epochs=30, lr=3e-3, patience=5),
}


def teacher_config(task_name: str, **overrides: Any) -> TeacherConfig:
    """Defaults for a task (XOR 1→64→1, keyword 16→128→1; others like keyword)."""
    base = TEACHER_DEFAULTS.get(task_name, TEACHER_DEFAULTS["keyword"])
    values = {**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}}
    return TeacherConfig(**values)


def predict(teacher: TeacherParams, data: Dataset, backend: Backend | str = "numpy",
            batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Latent x [S, T, d] and outputs y [S, T, n_out] of `teacher` on `data` (float32)."""
    be = get_backend(backend)
    params = {k: be.asarray(v, np.float32) for k, v in teacher.arrays().items()}
    tau = be.asarray(teacher.tau, np.float32)
    xs, ys = [], []
    for i in range(0, len(data), batch_size):
        x, y = forward(params, tau, be.asarray(data.inputs[i:i + batch_size], np.float32), be.xp)
        xs.append(be.to_numpy(x))
        ys.append(be.to_numpy(y))
    return np.concatenate(xs), np.concatenate(ys)


def evaluate_teacher(teacher: TeacherParams, task: Task, data: Dataset,
                     backend: Backend | str = "numpy") -> tuple[float, float]:
    """(masked MSE, accuracy) of the teacher on `data`."""
    _, y = predict(teacher, data, backend)
    loss, _ = masked_mse(y, data.targets, data.mask)
    return loss, float(task.accuracy(y, data))


def train_teacher(task: Task, config: TeacherConfig, seed: int = 0, backend: Backend | str = "numpy",
                  progress: Callable[[dict], None] | None = None) -> TeacherParams:
    """Train a teacher on `task.train`, early-stopping on `task.val` loss."""
    be = get_backend(backend)
    xp = be.xp
    init = init_teacher(task.n_in, config.n_hidden, task.n_out, seed, config.gain,
                        config.tau_range, config.input_scale)
    params = {k: be.asarray(v, np.float32) for k, v in init.arrays().items()}
    tau = be.asarray(init.tau, np.float32)
    opt = Adam(params, config.lr, config.clip, xp)
    rng = np.random.default_rng(seed + 1)
    train = task.train
    best, best_val, stale = None, np.inf, 0

    def snapshot() -> TeacherParams:
        host = {k: be.to_numpy(v).astype(np.float64) for k, v in params.items()}
        return TeacherParams(tau=init.tau.copy(), **host)

    for epoch in range(config.epochs):
        order = rng.permutation(len(train))
        losses = []
        for i in range(0, len(train), config.batch_size):
            batch = train.subset(order[i:i + config.batch_size])
            loss, grads = loss_and_grads(params, tau, be.asarray(batch.inputs, np.float32),
                                         be.asarray(batch.targets, np.float32), be.asarray(batch.mask), xp)
            opt.step(params, grads)
            losses.append(loss)
        current = snapshot()
        val_loss, val_acc = evaluate_teacher(current, task, task.val, be)
        if val_loss < best_val:
            best, best_val, stale = current, val_loss, 0
        else:
            stale += 1
        if progress is not None:
            progress({"stage": "teacher", "step": epoch + 1, "total": config.epochs,
                      "loss": float(np.mean(losses)), "val_loss": val_loss, "val_acc": val_acc})
        if stale >= config.patience:
            break
    assert best is not None
    best.meta = {"config": dict(config.__dict__), "epochs_run": epoch + 1, "best_val_loss": best_val}
    return best
