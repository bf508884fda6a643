"""Deleting finished mails (sent or dead) and their outbox rows, a batch per transaction,
so that SQLite's one writer is never held for long (retention and `purge-sent`); and what
becomes of an account's mails when the account is deleted."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.db.tables import mails
from regmail.mails.kinds import Channel
from regmail.mails.outbox import delete_rows_of
from regmail.mails.status import FINISHED, DeadReason, MailStatus

BATCH = 1000


async def purge_finished(
    engine: AsyncEngine,
    before: datetime,
    statuses: Collection[MailStatus] = FINISHED,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Delete mails in `statuses` (finished ones only) last updated before `before`;
    `progress` hears each batch's size. How many went."""
    if not set(statuses) <= FINISHED:
        raise ValueError("only finished mails are purged")
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
            await delete_rows_of(conn, ids)
            await conn.execute(delete(mails).where(mails.c.id.in_(ids)))
        purged += len(ids)
        progress(len(ids))


async def forget_account(
    conn: AsyncConnection, account_ids: Collection[str], now: datetime
) -> None:
    """The accounts are being deleted: their unfinished mails go dead unsent, every one of
    their mails loses its payload and its link to them. Finished mails stay, with their
    recipient, until retention deletes them. Their events go on: they report the account,
    its deletion among them, in order."""
    theirs = and_(mails.c.account_id.in_(account_ids), mails.c.channel == Channel.MAIL)
    await conn.execute(
        update(mails)
        .where(theirs, mails.c.status.not_in(FINISHED))
        .values(
            status=MailStatus.DEAD,
            dead_reason=DeadReason.ACCOUNT_DELETED,
            sending_until=None,
            next_attempt_at=None,
            updated_at=now,
        )
    )
    await conn.execute(update(mails).where(theirs).values(account_id=None, payload={}))
