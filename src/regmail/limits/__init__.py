"""Rate limits on requests, counted per key (a client network, an address from a client).

Counters live in the database when it is PostgreSQL, so every API process behind a load
balancer spends one budget (database.py); otherwise in this process's memory, bounded
(memory.py). Both keep the same sliding-window counter (window.py). Keys are hashed: no
address or IP is stored as such.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.limits.database import DatabaseCounters
from regmail.limits.memory import MemoryCounters
from regmail.limits.window import Count, Hit, estimate, retry_after, window_of
from regmail.settings import Settings


class Counters(Protocol):
    async def hit(self, hits: Sequence[Hit]) -> list[Count]: ...


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimit:
    """At most `limit` hits per `length` seconds per key."""

    def __init__(
        self,
        name: str,
        limit: int,
        length: float,
        counters: Counters,
        clock: Callable[[], float] = time.time,  # wall clock: every process shares windows
    ) -> None:
        self.name = name
        self.limit = limit
        self.length = length
        self.counters = counters
        self._clock = clock

    async def hit(self, key: str) -> None:
        """Count one hit of `key`, or raise RateLimited."""
        await hit_together((self, key))

    def planned(self, key: str) -> tuple[Hit, float]:
        """The hit to count for `key` now, and how much of its window is gone."""
        window, elapsed = window_of(self._clock(), self.length)
        hashed = hashlib.sha256(f"{self.name}|{key}".encode()).hexdigest()
        return Hit(hashed, window, (2.0 - elapsed) * self.length), elapsed

    def wait(self, count: Count, elapsed: float) -> int | None:
        """Seconds until the next hit fits, if `count` is over the limit."""
        if estimate(count, elapsed) <= self.limit:
            return None
        return retry_after(count, elapsed, self.limit, self.length)


async def hit_together(*hits: tuple[RateLimit, str]) -> None:
    """Count one hit of each key against its limit, all in one call to their counters (one
    statement on PostgreSQL); RateLimited with the longest wait if any is over."""
    counters = {id(limit.counters): limit.counters for limit, _ in hits}
    if len(counters) != 1:
        raise ValueError("limits counted together must share their counters")
    planned = [limit.planned(key) for limit, key in hits]
    if len({hit.key for hit, _ in planned}) != len(planned):
        raise ValueError("one key counted twice at once")
    counts = await next(iter(counters.values())).hit([hit for hit, _ in planned])
    waits = [
        wait
        for (limit, _), (_, elapsed), count in zip(hits, planned, counts, strict=True)
        if (wait := limit.wait(count, elapsed)) is not None
    ]
    if waits:
        raise RateLimited(max(waits))


@dataclass(frozen=True)
class RateLimits:
    """The API's limits (settings.py describes each)."""

    per_client: RateLimit  # sign-ups, resends, reset requests per client network
    per_address: RateLimit  # requests naming one address from one client network
    sign_in_checks: RateLimit
    link_uses: RateLimit

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine) -> RateLimits:
        counters: Counters = (
            DatabaseCounters(engine)
            if shared_in_database(engine)
            else MemoryCounters(settings.rate_limit_memory_keys)
        )
        return cls(
            RateLimit("client", settings.signups_per_ip_per_minute, 60.0, counters),
            RateLimit("address", settings.requests_per_address_per_hour, 3600.0, counters),
            RateLimit("sign-in", settings.sign_in_checks_per_ip_per_minute, 60.0, counters),
            RateLimit("link", settings.link_attempts_per_ip_per_minute, 60.0, counters),
        )


def shared_in_database(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
