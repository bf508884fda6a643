"""Counters in this process's memory: for SQLite (one machine, one API process), and the
fallback the database store is not. Bounded: at most `max_keys` keys, the least recently
used forgotten first, each request O(1)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from regmail.limits.window import Count, Hit


class MemoryCounters:
    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._counts: OrderedDict[str, Count] = OrderedDict()

    async def hit(self, hits: Sequence[Hit]) -> list[Count]:
        """Count one hit of each key in its window; the counts after them, in order."""
        return [self._hit(hit.key, hit.window) for hit in hits]

    def _hit(self, key: str, window: int) -> Count:
        known = self._counts.pop(key, None)
        count = (known.advanced(window) if known else Count(window, 0, 0)).hit()
        self._counts[key] = count  # now the most recently used
        if len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return count

    def __len__(self) -> int:
        return len(self._counts)
