"""The outbox table: rows written with the change they report, claimed under a lease.

With broker=db the outbox is the queue workers claim from; with RabbitMQ or Kafka the relay
claims rows the same way and deletes each once the broker has confirmed it. Every statement
on the table is here; the db broker (brokers/db.py) decides when to run them.

Consumers in other processes learn of new rows by PostgreSQL's NOTIFY (sent at commit) or
SQLite's data_version; consumers in this process by a `Wakeup`, which whoever commits the
rows rings after the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CTE, Row, Select, bindparam, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.db.carried import bind_name, bound
from regmail.db.tables import outbox
from regmail.mails.status import OutboxStatus

CHANNEL = "regmail_outbox"  # PostgreSQL NOTIFY channel
NOTIFY = f"NOTIFY {CHANNEL}"


class Wakeup:
    """Rings every consumer of this process that waits for new outbox rows."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._events.append(event)
        return event

    def ring(self) -> None:
        for event in self._events:
            event.set()


@dataclass(frozen=True)
class OutboxRow:
    id: int
    mail_id: str
    key: str
    deliveries: int  # including the claim that returned it
    trace: str


@dataclass(frozen=True)
class Settle:
    """What becomes of a claimed row: deleted (neither set), due again `later`, or `dead`."""

    row_id: int
    later: datetime | None = None
    dead: str | None = None


def outbox_values(mail_id: str, key: str, now: datetime, trace: str = "") -> dict[str, Any]:
    """An outbox row for the mail, due now, carrying `trace` (a W3C traceparent)."""
    return {
        "mail_id": mail_id,
        "key": key,
        "status": OutboxStatus.READY,
        "available_at": now,
        "deliveries": 0,
        "created_at": now,
        "trace": trace or None,
    }


async def insert_rows(
    conn: AsyncConnection, rows: Sequence[tuple[str, str]], now: datetime, trace: str = ""
) -> None:
    """Rows for (mail_id, key) pairs, due now, carrying `trace`.

    On PostgreSQL a NOTIFY goes with them: delivered when the transaction commits (and not
    at all if it rolls back), so listening workers wake exactly when there is work.
    """
    await insert_values(conn, [outbox_values(mail_id, key, now, trace) for mail_id, key in rows])


_INSERT = outbox.insert()  # built once (accounts/store.py says why)
# One row and its NOTIFY in one statement, so one round trip (PostgreSQL runs a data-
# modifying WITH whether or not the query reads it): what every sign-up queues.
_INSERT_ONE_NOTIFYING = select(func.pg_notify(CHANNEL, "")).add_cte(
    outbox.insert()
    .values({name: bindparam(name) for name in outbox_values("", "", datetime.min)})
    .cte("queued")
)


# The bind names of the outbox row in `notifying_insert_after`, apart from its step's
# (db/carried.py).
_AFTER = "outbox"


def notifying_insert_after(step: CTE) -> Select[Any]:
    """PostgreSQL: one outbox row and its NOTIFY, written only if `step` (a data-modifying
    WITH: the mail's INSERT) returned a row, and a row returned if they were: the mail, its
    outbox row and the wake-up in one round trip. Bind the row with `after_values`."""
    names = list(outbox_values("", "", datetime.min))
    values = select(
        *(bindparam(bind_name(_AFTER, name), type_=outbox.c[name].type) for name in names)
    )
    queued = outbox.insert().from_select(names, values.select_from(step))
    return select(func.pg_notify(CHANNEL, "")).select_from(queued.returning(outbox.c.id).cte())


def after_values(values: dict[str, Any]) -> dict[str, Any]:
    """An `outbox_values` row bound for `notifying_insert_after`."""
    return bound(_AFTER, values)


async def insert_values(conn: AsyncConnection, values: Sequence[dict[str, Any]]) -> None:
    """Outbox rows as `outbox_values` makes them, with the NOTIFY (see insert_rows)."""
    postgresql = conn.dialect.name == "postgresql"
    if postgresql and len(values) == 1:
        await conn.execute(_INSERT_ONE_NOTIFYING, values[0])
        return
    await conn.execute(_INSERT, values)
    if postgresql:
        await conn.execute(text(NOTIFY))


async def replace_row(conn: AsyncConnection, mail_id: str, key: str, now: datetime) -> None:
    """The mail's parked (or waiting) row replaced by one due now (a replay)."""
    await conn.execute(outbox.delete().where(outbox.c.mail_id == mail_id))
    await insert_rows(conn, [(mail_id, key)], now)


async def delete_rows_of(conn: AsyncConnection, mail_ids: Sequence[str]) -> None:
    """The rows of mails being purged (a dead mail's row stays until its mail goes)."""
    await conn.execute(delete(outbox).where(outbox.c.mail_id.in_(mail_ids)))


async def claim_rows(
    conn: AsyncConnection, limit: int, now: datetime, lease: timedelta
) -> list[OutboxRow]:
    """Up to `limit` due rows, leased until now + `lease` (SKIP LOCKED on PostgreSQL;
    SQLite's BEGIN IMMEDIATE serialises claims)."""
    due = (
        select(outbox.c.id)
        .where(
            outbox.c.status == OutboxStatus.READY,
            outbox.c.available_at <= now,
            or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
        )
        .order_by(outbox.c.available_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(outbox)
        .where(outbox.c.id.in_(due.scalar_subquery()))
        .values(lease_until=now + lease, deliveries=outbox.c.deliveries + 1)
        .returning(outbox.c.id, outbox.c.mail_id, outbox.c.key, outbox.c.deliveries, outbox.c.trace)
    )
    return [_row(r) for r in await conn.execute(claim)]


def _row(r: Row[Any]) -> OutboxRow:
    return OutboxRow(r.id, r.mail_id, r.key, r.deliveries, r.trace or "")


# Built once, executed with parameters: building statements per message costs CPU.
_DELETE = delete(outbox).where(outbox.c.id.in_(bindparam("b_ids", expanding=True)))
_LATER = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(available_at=bindparam("b_when"), lease_until=None)
)
_DEAD = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(status=OutboxStatus.DEAD, dead_reason=bindparam("b_reason"), lease_until=None)
)


async def settle_rows(conn: AsyncConnection, settles: Sequence[Settle]) -> list[None]:
    """Deleted rows in one DELETE; the others in one executemany per kind (a group-commit
    batch: one result per item)."""
    deleted = [s.row_id for s in settles if s.later is None and s.dead is None]
    later = [{"b_id": s.row_id, "b_when": s.later} for s in settles if s.later is not None]
    dead = [{"b_id": s.row_id, "b_reason": s.dead} for s in settles if s.dead is not None]
    if deleted:
        await conn.execute(_DELETE, {"b_ids": deleted})
    if later:
        await conn.execute(_LATER, later)
    if dead:
        await conn.execute(_DEAD, dead)
    return [None] * len(settles)


async def waiting(engine: AsyncEngine, now: datetime) -> tuple[int, float]:
    """(rows waiting, age in seconds of the oldest of them; 0 when none wait)."""
    query = select(func.count(), func.min(outbox.c.created_at)).where(
        outbox.c.status == OutboxStatus.READY
    )
    async with engine.connect() as conn:
        count, oldest = (await conn.execute(query)).one()
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return int(count), max(0.0, age)
