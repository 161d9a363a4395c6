"""Look tasks up by name ("xor", "keyword") or by the path of a user's `.npz`, or rebuild
the task a network's metadata records."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from sim.tasks.base import Task, TaskError
from sim.tasks.keyword import make_keyword
from sim.tasks.userdata import load_userdata
from sim.tasks.xor import make_xor

TASKS: dict[str, Callable[..., Task]] = {"xor": make_xor, "keyword": make_keyword}


def load_task(name_or_path: str, seed: int = 0, **sizes: Any) -> Task:
    """Build a named task or load a `.npz` data set; `sizes` go to its constructor (None = default)."""
    sizes = {k: v for k, v in sizes.items() if v is not None}
    if name_or_path in TASKS:
        make: Callable[..., Task] = TASKS[name_or_path]
    elif name_or_path.endswith(".npz") or Path(name_or_path).exists():
        make = lambda seed, **kw: load_userdata(name_or_path, seed, **kw)  # noqa: E731
        sizes = {k: v for k, v in sizes.items() if k == "final_fraction"}
    else:
        raise TaskError(f"unknown task {name_or_path!r}; choose one of {', '.join(TASKS)} or a path to a .npz file")
    accepted = set(inspect.signature(make).parameters) - {"seed"}
    unknown = sorted(set(sizes) - accepted) if name_or_path in TASKS else []
    if unknown:
        raise TaskError(f"task {name_or_path!r} does not take {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(accepted))}")
    try:
        return make(seed=seed, **sizes)
    except TaskError:
        raise
    except ValueError as exc:  # a constructor's own check of its sizes
        raise TaskError(str(exc)) from None


def rebuild_task(name: str, task_meta: dict[str, Any]) -> Task:
    """The task recorded in a network's metadata: `name` with the recorded seed and sizes, or
    the user's data set at the recorded `source` path (TaskError if that file is gone)."""
    sizes = dict(task_meta)
    seed = int(sizes.pop("seed", 0))
    source = sizes.pop("source", None)
    if source is None:
        return load_task(name, seed, **sizes)
    if not Path(source).is_file():
        raise TaskError(f"task {name!r} was trained on the data set {source}, which no longer exists; "
                        "pass --task with its new path")
    return load_task(str(source), seed, **sizes)
