"""The provider_pauses table: where workers say delivery is paused, and /readyz reads it."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS
from regmail.db.tables import provider_pauses

log = structlog.get_logger(__name__)

# A row whose pause ended longer ago than this is stale (its worker died while paused).
STALE_AFTER = timedelta(minutes=5)


class PauseBoard:
    """One paused destination of this worker: `smtp`, or an event destination."""

    def __init__(self, engine: AsyncEngine, destination: str = "smtp") -> None:
        self._engine = engine
        where = f"{socket.gethostname()}:{os.getpid()}"
        self._worker = (where if destination == "smtp" else f"{where} {destination}")[:128]

    async def announce(
        self, reason: str | None, since: datetime | None, until: datetime | None
    ) -> None:
        """Record this worker's pause (or its end, with None). Never fails delivery."""
        try:
            async with self._engine.begin() as conn:
                mine = provider_pauses.c.worker == self._worker
                await conn.execute(delete(provider_pauses).where(mine))
                if reason is not None:
                    await conn.execute(
                        provider_pauses.insert().values(
                            worker=self._worker, reason=reason[:1000], since=since, until=until
                        )
                    )
        except DATABASE_ERRORS as error:
            log.warning("pause_not_recorded", error=type(error).__name__)


async def current_pause(engine: AsyncEngine) -> str | None:
    """What /readyz says about delivery: None while no worker is paused."""
    query = (
        select(provider_pauses)
        .where(provider_pauses.c.until > utcnow() - STALE_AFTER)
        .order_by(provider_pauses.c.since)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return f"paused since {row.since.isoformat()} by worker {row.worker}: {row.reason}"
