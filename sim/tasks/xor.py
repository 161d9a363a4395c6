"""Temporal XOR: two ±1 pulses in the first 2/3 s; answer the XOR of their signs.

1 s at 1 ms. Each pulse lasts `PULSE_MS`; the second ends before 2/3 s. The target is
+1 (signs differ) or −1 (signs equal) from 50 ms to 300 ms after the end of the second
pulse and 0 elsewhere; the decision window is that same span.
"""
from __future__ import annotations

import numpy as np

from sim.tasks.base import Dataset, Task

T_MS = 1000
PULSE_MS = 100
WINDOW_MS = (50, 300)


def xor_dataset(n_samples: int, rng: np.random.Generator, n_steps: int = T_MS,
                pulse_ms: int = PULSE_MS, input_noise: float = 0.0) -> Dataset:
    """`n_samples` trials, balanced over the four sign combinations."""
    latest_end = int(round(n_steps * 2 / 3))
    if latest_end < 3 * pulse_ms:
        raise ValueError(f"xor task: n_steps={n_steps} is too short for two {pulse_ms} ms pulses in its first "
                         f"2/3 (needs at least {int(np.ceil(4.5 * pulse_ms))} steps)")
    inputs = np.zeros((n_samples, n_steps, 1), np.float32)
    targets = np.zeros((n_samples, n_steps, 1), np.float32)
    mask = np.zeros((n_samples, n_steps), bool)
    combos = np.array([(-1, -1), (-1, 1), (1, -1), (1, 1)])[np.arange(n_samples) % 4]
    combos = combos[rng.permutation(n_samples)]
    labels = (combos[:, 0] != combos[:, 1]).astype(np.int64)
    for i, (a, b) in enumerate(combos):
        first = int(rng.integers(0, latest_end - 3 * pulse_ms + 1))
        second = int(rng.integers(first + 2 * pulse_ms, latest_end - pulse_ms + 1))
        inputs[i, first:first + pulse_ms, 0] = a
        inputs[i, second:second + pulse_ms, 0] = b
        end = second + pulse_ms
        lo, hi = end + WINDOW_MS[0], min(end + WINDOW_MS[1], n_steps)
        targets[i, lo:hi, 0] = 1.0 if labels[i] else -1.0
        mask[i, lo:hi] = True
    if input_noise > 0:
        inputs += rng.normal(0.0, input_noise, inputs.shape).astype(np.float32)
    strata = (combos[:, 0] > 0) * 2 + (combos[:, 1] > 0)  # the sign combination, 0..3
    return Dataset(inputs, targets, mask, labels, strata.astype(np.int64))


def make_xor(seed: int = 0, n_train: int = 256, n_val: int = 64, n_test: int = 128,
             n_steps: int = T_MS, input_noise: float = 0.0) -> Task:
    """The temporal XOR task; splits are drawn from independent streams of `seed`."""
    streams = np.random.SeedSequence(seed).spawn(3)
    splits = [xor_dataset(n, np.random.default_rng(s), n_steps, input_noise=input_noise)
              for n, s in zip((n_train, n_val, n_test), streams)]
    return Task("xor", *splits, meta={"seed": seed, "n_train": n_train, "n_val": n_val, "n_test": n_test,
                                      "n_steps": n_steps, "input_noise": input_noise})
