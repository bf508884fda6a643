"""Operators' view of accounts (look up, show, delete) and the housekeeping that deletes
what is not worth keeping: pending accounts never activated, old sign-in failure counts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts import store, throttle, tokens
from regmail.accounts.addresses import Address
from regmail.accounts.mailing import AccountMail
from regmail.accounts.store import Account
from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS, readonly
from regmail.event_types import EventType
from regmail.limits import database as limits
from regmail.mails.purge import forget_account

log = structlog.get_logger(__name__)

BATCH = 500
HOUSEKEEPING_SECONDS = 3600.0
FAILURES_KEPT = timedelta(days=1)  # longer than any sign-in delay


class AccountAdmin:
    def __init__(self, engine: AsyncEngine, pending_days: int, mail: AccountMail) -> None:
        self._engine = engine
        self._reads = readonly(engine)  # look-ups take no write lock
        self._pending_days = pending_days
        self._mail = mail

    async def find(self, address: Address) -> Account | None:
        async with self._reads.connect() as conn:
            return await store.by_key(conn, address.key)

    async def get(self, account_id: str) -> Account | None:
        async with self._reads.connect() as conn:
            return await store.by_id(conn, account_id)

    async def delete(self, account_id: str) -> bool:
        """The account, its tokens and its mails' payloads; whether there was one."""
        async with self._engine.begin() as conn:
            account = await store.by_id(conn, account_id)
            if account is None:
                return False
            events = await self._delete(conn, [account], "operator", utcnow())
        self._mail.queue.committed(*events)
        log.info("account_deleted", account_id=account_id)
        return True

    async def purge(self, now: datetime) -> int:
        """Pending accounts older than `pending_days` (0: kept), stale failure counts and
        spent rate-limit counters; a batch per transaction. How many accounts went."""
        purged = 0
        while self._pending_days > 0:
            async with self._engine.begin() as conn:
                before = now - timedelta(days=self._pending_days)
                stale = await store.pending_before(conn, before, BATCH)
                events = await self._delete(conn, stale, "never_activated", now)
            self._mail.queue.committed(*events)
            purged += len(stale)
            if len(stale) < BATCH:
                break
        async with self._engine.begin() as conn:
            await throttle.purge_before(conn, now - FAILURES_KEPT)
            await limits.purge_expired(conn, now)
        return purged

    async def run(self, stop: asyncio.Event) -> None:
        """Purge once an hour until `stop`."""
        while not stop.is_set():
            try:
                purged = await self.purge(utcnow())
                if purged:
                    log.info("pending_accounts_purged", count=purged)
            except DATABASE_ERRORS as error:  # the next round tries again
                log.warning("account_purge_failed", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HOUSEKEEPING_SECONDS)

    async def _delete(
        self, conn: AsyncConnection, accounts: Sequence[Account], reason: str, now: datetime
    ) -> list[str]:
        """Delete `accounts` with their tokens and mails' payloads; the ids of the
        account.deleted events (queued in the same transaction)."""
        if not accounts:
            return []
        account_ids = [account.id for account in accounts]
        await forget_account(conn, account_ids, now)
        await tokens.delete_for(conn, account_ids)
        await store.delete_accounts(conn, account_ids)
        events: list[str] = []
        for account in accounts:
            events += await self._mail.event(conn, EventType.DELETED, account, now, reason=reason)
        return events
