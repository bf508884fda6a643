"""What operators do to mails: list, show, retry. Shared by the admin API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
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


@dataclass(frozen=True)
class MailFilter:
    """Which mails an operator means; None matches anything."""

    status: str | None = None
    recipient: str | None = None
    reason: str | None = None  # dead reason
    since: datetime | None = None  # last changed at or after

    def apply(self, query: Select[Any]) -> Select[Any]:
        for column, wanted in (
            (mails.c.status, self.status),
            (mails.c.recipient, self.recipient),
            (mails.c.dead_reason, self.reason),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        if self.since is not None:
            since = self.since if self.since.tzinfo else self.since.replace(tzinfo=UTC)
            query = query.where(mails.c.updated_at >= since)
        return query


async def list_mails(
    engine: AsyncEngine, which: MailFilter = MailFilter(), limit: int = 100
) -> list[MailView]:
    query = which.apply(select(*_VISIBLE)).order_by(mails.c.updated_at.desc()).limit(limit)
    async with engine.connect() as conn:
        return [MailView(**row._mapping) for row in await conn.execute(query)]


async def mail_ids(engine: AsyncEngine, which: MailFilter) -> list[str]:
    """Every matching mail's id, oldest change first (for bulk actions)."""
    query = which.apply(select(mails.c.id)).order_by(mails.c.updated_at)
    async with engine.connect() as conn:
        return list(await conn.scalars(query))


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


async def outbox_stats(engine: AsyncEngine) -> tuple[int, float]:
    """(outbox rows waiting, age in seconds of the oldest of them; 0 when none wait)."""
    query = select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.status == "ready")
    async with engine.connect() as conn:
        count, oldest = (await conn.execute(query)).one()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return int(count), max(0.0, age)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `7d` → a timedelta; ValueError otherwise."""
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not number.isdigit():
        raise ValueError(f"{text!r}: expected a number and s, m, h or d (like 2h or 7d)")
    return timedelta(seconds=int(number) * _UNITS[unit])


def parse_since(text: str) -> datetime:
    """An age (`2h`: two hours ago) or an ISO 8601 time (UTC unless it says otherwise)."""
    try:
        return utcnow() - parse_age(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        expected = f"{text!r}: expected an age like 2h or a time like 2026-11-24T08:00"
        raise ValueError(expected) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
