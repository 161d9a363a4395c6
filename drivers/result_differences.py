"""Where two runs' results part: spikes, state and activity counters (`drivers.population`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from sim.chip.activity import COUNTERS, Activity

# How two results differ: the axes of each field (a single run, `drivers.chip.RunResult`, has no trial axis).
RESULT_AXES = {"spikes": ("trial", "step", "neuron"), "v": ("trial", "step", "neuron"),
               "isyn": ("trial", "step", "synapse type", "neuron"), "refr": ("trial", "step", "neuron")}


def result_differences(expected: Any, actual: Any, labels: tuple[str, str] = ("expected", "actual")) -> list[str]:
    """Where two results part, one line per field that differs (none when they agree bit for
    bit): for spikes, v, isyn and refr, whether only one side recorded it, unequal shapes, or
    how many entries differ, the first of them, and on which trials. Takes `PopulationResult`s
    or single runs (`RunResult`); `labels` name the two sides. The activity counters are
    compared trial by trial where both sides counted them."""
    first, second = labels
    lines = []
    for name, axes in RESULT_AXES.items():
        a, b = getattr(expected, name), getattr(actual, name)
        if a is None or b is None:
            if a is not None or b is not None:
                lines.append(f"{name}: recorded by {first if b is None else second} only")
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            lines.append(f"{name}: shape {a.shape} ({first}) != {b.shape} ({second})")
            continue
        differ = a != b
        count = int(np.count_nonzero(differ))
        if not count:
            continue
        at = tuple(int(i) for i in np.argwhere(differ)[0])
        position = ", ".join(f"{axis} {i}" for axis, i in zip(axes[len(axes) - a.ndim:], at))
        line = (f"{name}: {count} of {a.size} entries differ, first at {position}: "
                f"{first} {a[at].item()!r}, {second} {b[at].item()!r}")
        if a.ndim == len(axes):
            trials = np.flatnonzero(differ.reshape(len(a), -1).any(axis=1))
            line += f"; on {trials.size} of {len(a)} trials ({', '.join(map(str, trials[:10]))}" \
                    f"{', ...' if trials.size > 10 else ''})"
        lines.append(line)
    return lines + _counter_differences(getattr(expected, "activity", None), getattr(actual, "activity", None),
                                        labels)


def _counter_differences(a: Activity | None, b: Activity | None, labels: tuple[str, str]) -> list[str]:
    """Where two results' activity counters part (compared where both sides counted)."""
    if a is None or b is None:
        return []
    lines = []
    for name in COUNTERS:
        x, y = getattr(a, name), getattr(b, name)
        if x.shape != y.shape:
            lines.append(f"{name}: shape {x.shape} ({labels[0]}) != {y.shape} ({labels[1]})")
            continue
        differ = np.flatnonzero(x != y)
        if differ.size:
            i = int(differ[0])
            lines.append(f"{name}: {differ.size} of {x.size} trials differ, first trial {i}: "
                         f"{labels[0]} {int(x[i])}, {labels[1]} {int(y[i])}")
    return lines
