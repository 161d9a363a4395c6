"""Sets of byte ranges: what a transfer still misses (host) or already holds (board)."""
from __future__ import annotations

import bisect


class Ranges:
    """Disjoint, sorted, half-open ranges [start, end) of byte offsets; adjacent ones merge."""

    def __init__(self, start: int = 0, end: int = 0):
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.add(start, end)

    def add(self, start: int, end: int) -> None:
        if start >= end:
            return
        lo = bisect.bisect_left(self._ends, start)       # first range ending at or after start
        hi = bisect.bisect_right(self._starts, end)      # ranges starting at or before end
        if lo < hi:
            start, end = min(start, self._starts[lo]), max(end, self._ends[hi - 1])
        self._starts[lo:hi], self._ends[lo:hi] = [start], [end]

    def remove(self, start: int, end: int) -> None:
        if start >= end:
            return
        lo = bisect.bisect_right(self._ends, start)      # first range ending after start
        hi = bisect.bisect_left(self._starts, end)       # ranges starting before end
        if lo >= hi:
            return
        keep = [(s, e) for s, e in ((self._starts[lo], start), (end, self._ends[hi - 1])) if s < e]
        self._starts[lo:hi], self._ends[lo:hi] = [s for s, _ in keep], [e for _, e in keep]

    def first(self, limit: int) -> tuple[int, int] | None:
        """The lowest range, cut to at most `limit` bytes; None when empty."""
        if not self._starts:
            return None
        return self._starts[0], min(self._ends[0], self._starts[0] + limit)

    def covers(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def prefix(self) -> int:
        """End of the range that starts at 0 (0 if none does)."""
        return self._ends[0] if self._starts and self._starts[0] == 0 else 0

    def within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of the ranges inside [start, end)."""
        lo = bisect.bisect_right(self._ends, start)
        hi = bisect.bisect_left(self._starts, end)
        return [(max(s, start), min(e, end)) for s, e in zip(self._starts[lo:hi], self._ends[lo:hi])]

    def total(self) -> int:
        """Bytes in all ranges."""
        return sum(self._ends) - sum(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def spans(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends))
