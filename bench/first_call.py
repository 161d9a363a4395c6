"""What the first call of a Numba-compiled path costs in a fresh process: once with an
empty kernel cache (it compiles), once with the cache that run left on disk."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

BENCH = Path(__file__).resolve().parent
PROGRAM = """
import sys, time
start = time.perf_counter()
sys.path.insert(0, {bench!r})
{setup}
ready = time.perf_counter()
{call}
first = time.perf_counter()
{call}
print(ready - start, first - ready, time.perf_counter() - first)
"""


def first_call_costs(setup: str, call: str) -> Iterator[tuple[str, float, float, float]]:
    """(cache state, seconds of `setup`, of the first `call`, of the second) for an empty
    Numba cache and then the cache on disk; `setup` runs with bench/ on sys.path."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("empty cache (compiles)", "cache on disk"):
            program = PROGRAM.format(bench=str(BENCH), setup=setup, call=call)
            out = subprocess.run([sys.executable, "-c", program], env=env, check=True, capture_output=True,
                                 text=True, cwd=BENCH.parent).stdout
            ready, first, second = map(float, out.split())
            yield label, ready, first, second
