"""Small statistics shared by the drivers (measured power) and the harness (counters over chips)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def mean_and_stderr(values: Sequence[float], *, one_value_stderr: float) -> dict[str, float]:
    """{'mean', 'stderr'} of `values`; the standard error of a single value is `one_value_stderr`."""
    values = np.asarray(values, np.float64)
    stderr = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else one_value_stderr
    return {"mean": float(values.mean()), "stderr": stderr}
