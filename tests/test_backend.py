import numpy as np
import pytest

from sim.backend import BackendError, cupy_available, get_backend


def test_numpy_backend_always_available():
    be = get_backend("numpy")
    assert be.name == "numpy" and be.xp is np
    assert isinstance(be.to_numpy(be.asarray([1, 2])), np.ndarray)


def test_auto_picks_cupy_only_with_a_gpu():
    assert get_backend("auto").name == ("cupy" if cupy_available() else "numpy")


def test_unknown_backend_is_named():
    with pytest.raises(BackendError, match="unknown backend 'torch'"):
        get_backend("torch")


@pytest.mark.skipif(cupy_available(), reason="CuPy with a GPU is present, so 'cupy' does not fail here")
def test_cupy_request_without_gpu_says_how_to_install():
    with pytest.raises(BackendError, match=r"\.\[gpu\]"):
        get_backend("cupy")
