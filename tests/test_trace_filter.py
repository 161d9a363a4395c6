"""The compiled readout filter gives lfilter's bits (harness.compiler.decoding used lfilter)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from sim.trace_filter import exponential_filter, normalised_projection, running_mean


def reference(x: np.ndarray, tau: float) -> np.ndarray:
    k = np.exp(-1.0 / tau)
    return lfilter([1.0 / tau], [1.0, -k], np.asarray(x, np.float64), axis=-2)


@pytest.mark.parametrize("tau", [1.0, 3.7, 20.0, 150.0])
def test_spikes_and_projections_filter_to_the_same_bits_as_lfilter(tau):
    rng = np.random.default_rng(int(tau * 10))
    spikes = rng.random((3, 2, 400, 37)) < 0.05
    assert np.array_equal(exponential_filter(spikes, tau), reference(spikes, tau))
    projected = spikes.astype(np.float64) @ rng.normal(size=(37, 3))  # signed, as Decoder.decode filters
    out = exponential_filter(projected, tau)
    assert out.shape == projected.shape and np.array_equal(out, reference(projected, tau))
    counts = rng.integers(0, 3, (50, 5)).astype(np.int32)  # any number type; one series [T, K]
    assert np.array_equal(exponential_filter(counts, tau), reference(counts, tau))


def test_a_one_dimensional_input_is_refused():
    with pytest.raises(ValueError, match=r"needs \[..., T, K\]"):
        exponential_filter(np.zeros(5), 2.0)


def test_the_running_mean_has_the_bits_of_cumsum_over_steps():
    rng = np.random.default_rng(2)
    for x in (rng.random((3, 500, 7)) < 0.1, rng.normal(size=(2, 4, 300, 5)), rng.integers(0, 3, (200, 9))):
        steps = np.arange(1, x.shape[-2] + 1, dtype=np.float64)[:, None]
        assert np.array_equal(running_mean(x), np.cumsum(x, axis=-2, dtype=np.float64) / steps)
    with pytest.raises(ValueError, match="running_mean needs"):
        running_mean(np.zeros(5))


def test_the_normalised_projection_is_the_features_projected():
    rng = np.random.default_rng(3)
    x = rng.random((4, 300, 12)) < 0.05
    x[:, :50, 3] = False  # a channel silent at first adds nothing until it spikes
    w = rng.normal(size=(12, 2))
    traces = exponential_filter(x, 7.0) / (running_mean(x) + 1e-3)
    np.testing.assert_allclose(normalised_projection(x, 7.0, 1e-3, w), traces @ w, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"normalised_projection needs \[..., T, 12\]"):
        normalised_projection(x[..., :5], 7.0, 1e-3, w)
