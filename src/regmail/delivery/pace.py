"""Keeping to a provider's sending rate: at most `rate` sends a second, evenly spaced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pace:
    """A leaky bucket without a burst: each send gets the next free slot, 1/rate apart.

    It paces one process; with several workers, give each its share of the provider's
    limit. Waiting here delays a send, it never fails one.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0

    def reserve(self) -> float:
        """Take the next slot; how long to wait for it (0 when it is now)."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        return slot - now

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing to the provider's limit, by design
