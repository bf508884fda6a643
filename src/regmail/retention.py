"""Finished mails (sent or dead) are deleted after `mail_retention_days`, so that old mail
(addresses and delivery history) does not pile up in the database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS
from regmail.db.tables import mails, outbox

log = structlog.get_logger(__name__)

BATCH = 1000  # rows per transaction: SQLite's one writer is never held for long
INTERVAL_SECONDS = 3600.0


async def purge_finished(
    engine: AsyncEngine,
    before: datetime,
    statuses: tuple[str, ...] = ("sent", "dead"),
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Delete mails in `statuses` (finished ones only) last updated before `before`, a batch
    per transaction; `progress` hears each batch's size. How many went."""
    assert set(statuses) <= {"sent", "dead"}, "only finished mails are purged"
    purged = 0
    while True:
        async with engine.begin() as conn:
            ids = list(
                await conn.scalars(
                    select(mails.c.id)
                    .where(mails.c.status.in_(statuses), mails.c.updated_at < before)
                    .limit(BATCH)
                )
            )
            if not ids:
                return purged
            # A dead mail's outbox row stays (status dead) until its mail goes.
            await conn.execute(delete(outbox).where(outbox.c.mail_id.in_(ids)))
            await conn.execute(delete(mails).where(mails.c.id.in_(ids)))
        purged += len(ids)
        progress(len(ids))


async def run_retention(engine: AsyncEngine, days: int, stop: asyncio.Event) -> None:
    """Purge once an hour until `stop`; `days` = 0 keeps mail forever."""
    while days > 0 and not stop.is_set():
        try:
            purged = await purge_finished(engine, utcnow() - timedelta(days=days))
            if purged:
                log.info("mails_purged", count=purged, older_than_days=days)
        except DATABASE_ERRORS as error:  # the next round tries again
            log.warning("retention_failed", error=repr(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), INTERVAL_SECONDS)
