"""Mails as operators see them (list, show, counts: the admin API and the CLI), and the
count the per-address mail limit reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.clock import utcnow
from regmail.db.tables import mails
from regmail.mails.status import DeadReason, MailStatus

# Columns an operator sees. The payload is left out: it holds the activation token.
VISIBLE = [
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
    status: MailStatus
    attempts: int
    last_reply: str | None
    dead_reason: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> MailView:
        values = dict(row._mapping)
        return cls(**{**values, "status": MailStatus(values["status"])})

    def as_json(self) -> dict[str, Any]:
        return {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()
        }


@dataclass(frozen=True)
class MailFilter:
    """Which mails an operator means; None matches anything."""

    status: MailStatus | None = None
    recipient: str | None = None
    reason: DeadReason | None = None
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
    query = which.apply(select(*VISIBLE)).order_by(mails.c.updated_at.desc()).limit(limit)
    async with engine.connect() as conn:
        return [MailView.of(row) for row in await conn.execute(query)]


async def mail_ids(engine: AsyncEngine, which: MailFilter) -> list[str]:
    """Every matching mail's id, oldest change first (for bulk actions)."""
    query = which.apply(select(mails.c.id)).order_by(mails.c.updated_at)
    async with engine.connect() as conn:
        return list(await conn.scalars(query))


async def get_mail(engine: AsyncEngine, mail_id: str) -> MailView | None:
    async with engine.connect() as conn:
        return await read_mail(conn, mail_id)


async def read_mail(conn: AsyncConnection, mail_id: str) -> MailView | None:
    row = (await conn.execute(select(*VISIBLE).where(mails.c.id == mail_id))).first()
    return MailView.of(row) if row is not None else None


async def count_by_status(engine: AsyncEngine) -> dict[str, int]:
    query = select(mails.c.status, func.count()).group_by(mails.c.status)
    async with engine.connect() as conn:
        counts = {status: n for status, n in await conn.execute(query)}
    return {status: counts.get(status, 0) for status in MailStatus}


# Mails queued to the address bound as `recipient` after `since` and when the latest of them
# was: always one row. Built once: every sign-up asks it (accounts/store.py says why).
RECENT_TO = select(
    func.count().label("recent_count"), func.max(mails.c.created_at).label("recent_latest")
).where(mails.c.recipient == bindparam("recipient"), mails.c.created_at > bindparam("since"))


def recent_in(row: Row[Any]) -> tuple[int, datetime | None]:
    """(count, latest) of a row that holds RECENT_TO's columns."""
    return int(row.recent_count), row.recent_latest


async def recent_to(
    conn: AsyncConnection, recipient: str, since: datetime
) -> tuple[int, datetime | None]:
    """(mails queued to `recipient` after `since`, when the latest of them was)."""
    result = await conn.execute(RECENT_TO, {"recipient": recipient, "since": since})
    return recent_in(result.one())


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
