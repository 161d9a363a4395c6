"""Rate teacher: hand-written BPTT against finite differences, and XOR training."""
import numpy as np

from sim.tasks.xor import make_xor
from sim.teacher import evaluate_teacher, init_teacher, loss_and_grads, teacher_config, train_teacher


def test_bptt_matches_finite_differences():
    rng = np.random.default_rng(0)
    init = init_teacher(2, 5, 2, seed=1, tau_range=(2.0, 6.0))
    params = {k: v.copy() for k, v in init.arrays().items()}
    params["bias"] = rng.normal(0, 0.3, 5)
    x, y = rng.normal(0, 1, (3, 15, 2)), rng.normal(0, 1, (3, 15, 2))
    mask = rng.random((3, 15)) > 0.3
    _, grads = loss_and_grads(params, init.tau, x, y, mask)
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + 1e-6
            up, _ = loss_and_grads(params, init.tau, x, y, mask)
            value[idx] = old - 1e-6
            down, _ = loss_and_grads(params, init.tau, x, y, mask)
            value[idx] = old
            numeric[idx] = (up - down) / 2e-6
        err = np.abs(numeric - grads[name]).max() / np.abs(numeric).max()
        assert err < 1e-5, (name, err)


def test_teacher_learns_short_xor():
    task = make_xor(seed=1, n_train=64, n_val=16, n_test=32, n_steps=600)
    teacher = train_teacher(task, teacher_config("xor", n_hidden=16, epochs=12, batch_size=16, lr=2e-2), seed=0)
    _, acc = evaluate_teacher(teacher, task, task.test)
    assert acc >= 0.9
