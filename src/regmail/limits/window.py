"""The sliding-window counter both stores keep: per key, the hits of the current fixed
window and of the one before it. The estimate weighs the previous window by how much of it
still overlaps the sliding one, so a burst at a window's edge cannot pass twice the limit
(as plain fixed windows allow), yet a key costs three numbers instead of a log of hits.
Refused requests count too: a client that keeps hammering stays refused; one that waits
the Retry-After it was given gets in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Count:
    window: int  # index of the current window: floor(now / length)
    hits: int
    previous: int  # hits of window - 1

    def advanced(self, window: int) -> Count:
        """This count seen from `window` (same or later), before a new hit."""
        if window == self.window:
            return self
        previous = self.hits if window == self.window + 1 else 0
        return Count(window, 0, previous)

    def hit(self) -> Count:
        return Count(self.window, self.hits + 1, self.previous)


@dataclass(frozen=True, slots=True)
class Hit:
    """One hit to count: a key (hashed), the window it falls in, and how long the key's
    counts must be kept (until both windows that can weigh on it are over)."""

    key: str
    window: int
    expires_in: float


def window_of(now: float, length: float) -> tuple[int, float]:
    """(the window `now` falls in, the fraction of it already gone)."""
    index = math.floor(now / length)
    return index, now / length - index


def estimate(count: Count, elapsed: float) -> float:
    """Hits in the sliding window ending now."""
    return count.previous * (1.0 - elapsed) + count.hits


def retry_after(count: Count, elapsed: float, limit: int, length: float) -> int:
    """Whole seconds until one more hit would be allowed, if none comes before."""
    room = limit - 1  # the estimate must fall to this for the next hit to fit
    if count.hits <= room and count.previous > 0:
        # Still in this window: wait for the previous window's weight to shrink enough.
        fraction = 1.0 - (room - count.hits) / count.previous
        wait = (fraction - elapsed) * length
    else:
        # Only once this window has become the previous one, and shrunk enough.
        fraction = 1.0 - room / count.hits if count.hits else 0.0
        wait = (1.0 - elapsed + fraction) * length
    return max(1, math.ceil(wait))
