"""Counters in the database, shared by every API process: one upsert a request, however
many of its limits it counts.

The upsert moves the row to the current window (the old hits becoming `previous` when the
window is the next one, nothing when later) and counts the hit, in one statement, so two
processes counting one key at once both count. Rows are purged once both windows are over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.clock import utcnow
from regmail.db.tables import rate_limits
from regmail.limits.window import Count, Hit

_row = rate_limits.c


# Written for asyncpg itself, which prepares it once per connection: through SQLAlchemy's
# execute (statement built once, bound parameters, autocommit) a sign-up's two checks cost
# the API 1,218 µs of CPU, this way 831 µs (bench/limiter.py, 2026-12-02). Every key of a
# request in one statement, rows locked in key order so that two requests naming the same
# keys cannot deadlock.
UPSERT = """
INSERT INTO regmail_rate_limits AS r (key, window_index, hits, previous, expires_at)
SELECT key, window_index, 1, 0, expires_at
FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS h(key, window_index, expires_at)
ORDER BY key
ON CONFLICT (key) DO UPDATE SET
    previous = CASE WHEN r.window_index = excluded.window_index THEN r.previous
                    WHEN r.window_index = excluded.window_index - 1 THEN r.hits ELSE 0 END,
    hits = CASE WHEN r.window_index = excluded.window_index THEN r.hits + 1 ELSE 1 END,
    window_index = excluded.window_index,
    expires_at = excluded.expires_at
RETURNING key, hits, previous
"""


class DatabaseCounters:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def hit(self, hits: Sequence[Hit]) -> list[Count]:
        """Count one hit of each key in its window; the counts after them, in order (one
        statement, in autocommit: no BEGIN and COMMIT round trips)."""
        keys = [hit.key for hit in hits]  # distinct (limits.hit_together)
        now = utcnow()
        expires = [now + timedelta(seconds=hit.expires_in) for hit in hits]
        async with self._engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            try:
                rows = await driver.fetch(UPSERT, keys, [hit.window for hit in hits], expires)
            except BaseException:
                # SQLAlchemy never saw this call fail: left in the pool, a connection cut
                # mid-statement would fail the next request with it too.
                await conn.invalidate()
                raise
        counted = {row["key"]: (row["hits"], row["previous"]) for row in rows}
        return [Count(hit.window, *counted[hit.key]) for hit in hits]


async def purge_expired(conn: AsyncConnection, now: datetime) -> None:
    """Counters whose windows are both over (they would count nothing)."""
    await conn.execute(delete(rate_limits).where(_row.expires_at < now))
