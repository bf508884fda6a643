"""Finished mails (sent or dead) are deleted `mail_retention_days` after their last change,
so that old mail (addresses and delivery history) does not pile up in the database.
Workers run this beside delivery; mails/purge.py does the deleting."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS
from regmail.mails.purge import purge_finished

log = structlog.get_logger(__name__)

INTERVAL_SECONDS = 3600.0


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
