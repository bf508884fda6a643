"""What operators do to mails: list, show, retry. Shared by the admin API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts.service import AccountService
from regmail.brokers.db import DbBroker
from regmail.clock import utcnow
from regmail.db.tables import mails, outbox
from regmail.outbox.enqueue import enqueue_outbox_rows

STATUSES = ("queued", "sending", "sent", "retrying", "dead")

# Columns an operator sees. The payload is left out: it holds the activation token.
_VISIBLE = [
    mails.c.id,
    mails.c.kind,
    mails.c.recipient,
    mails.c.locale,
    mails.c.status,
    mails.c.attempts,
    mails.c.last_reply,
    mails.c.dead_reason,
    mails.c.created_at,
    mails.c.updated_at,
    mails.c.next_attempt_at,
    mails.c.sent_at,
    mails.c.expires_at,
]


@dataclass(frozen=True)
class MailView:
    id: str
    kind: str
    recipient: str
    locale: str
    status: str
    attempts: int
    last_reply: str | None
    dead_reason: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    expires_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()
        }


async def list_mails(
    engine: AsyncEngine, status: str | None = None, limit: int = 100
) -> list[MailView]:
    query = select(*_VISIBLE).order_by(mails.c.updated_at.desc()).limit(limit)
    if status is not None:
        query = query.where(mails.c.status == status)
    async with engine.connect() as conn:
        return [MailView(**row._mapping) for row in await conn.execute(query)]


async def get_mail(engine: AsyncEngine, mail_id: str) -> MailView | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_VISIBLE).where(mails.c.id == mail_id))).first()
    return MailView(**row._mapping) if row is not None else None


async def count_by_status(engine: AsyncEngine) -> dict[str, int]:
    query = select(mails.c.status, func.count()).group_by(mails.c.status)
    async with engine.connect() as conn:
        counts = {status: n for status, n in await conn.execute(query)}
    return {status: counts.get(status, 0) for status in STATUSES}


class NotRetryable(Exception):
    pass


async def retry_mail(
    engine: AsyncEngine, queue: DbBroker, accounts: AccountService, mail_id: str
) -> MailView:
    """Replay a `dead` or `retrying` mail now, with a fresh retry budget (and, for an
    activation mail, a fresh link: the old token went with the scrubbed payload)."""
    now = utcnow()
    async with engine.begin() as conn:
        query = select(mails.c.status, mails.c.recipient, mails.c.kind, mails.c.account_id)
        row = (await conn.execute(query.where(mails.c.id == mail_id))).first()
        if row is None:
            raise LookupError(mail_id)
        if row.status not in ("dead", "retrying"):
            raise NotRetryable(f"mail is {row.status}; only dead or retrying mails are replayed")
        renewed: dict[str, Any] = {}
        if row.kind == "activation":
            fresh = await accounts.renew_activation(conn, mail_id, row.account_id, now)
            if fresh is None:
                raise NotRetryable("the account is no longer pending; it needs no activation")
            renewed = {"payload": fresh.payload, "expires_at": fresh.expires_at}
        await conn.execute(
            update(mails)
            .where(mails.c.id == mail_id)
            .values(
                status="queued",
                dead_reason=None,
                next_attempt_at=None,
                attempts_before_replay=mails.c.attempts,
                replayed_at=now,
                updated_at=now,
                **renewed,
            )
        )
        # Replace the parked (or waiting) outbox row with one due now, in the same
        # transaction, so a replay is never half done.
        await conn.execute(outbox.delete().where(outbox.c.mail_id == mail_id))
        await enqueue_outbox_rows(conn, [(mail_id, row.recipient)], now)
        # Read inside the transaction: the answer is the state the replay set, not
        # whatever a worker has made of it a moment later.
        replayed = (await conn.execute(select(*_VISIBLE).where(mails.c.id == mail_id))).one()
    queue.wake()
    return MailView(**replayed._mapping)
