"""The suppression list: an address whose server said "no such user" gets no more mail.

Mailing a dead address again and again hurts the sender's reputation with providers, and
a sign-up flood for addresses that do not exist should not turn into a bounce flood. The
worker adds an address on a hard bounce (mail/replies.py says which replies are); the
queue queues no mail to a suppressed address (a sign-up for it still answers 202);
operators list and lift suppressions (admin API, `regmail suppressions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.clock import utcnow
from regmail.db.group_commit import GroupCommit
from regmail.db.tables import suppressions


@dataclass(frozen=True)
class Suppression:
    address: str
    reason: str
    mail_id: str | None
    created_at: datetime


class Suppressions:
    """The worker's writes to the list, in its group commit."""

    def __init__(self, writes: GroupCommit) -> None:
        self._writes = writes

    async def add(self, address: str, reason: str, mail_id: str) -> bool:
        """Suppress `address` after `mail_id` bounced; whether it was not suppressed yet."""

        async def write(conn: AsyncConnection) -> bool:
            if await is_suppressed(conn, address):
                return False
            await conn.execute(
                suppressions.insert().values(
                    address=address.lower(),
                    reason=reason[:1000],
                    mail_id=mail_id,
                    created_at=utcnow(),
                )
            )
            return True

        try:
            return await self._writes.run(write)
        except IntegrityError:  # another worker's bounce for it got there first
            return False


def not_suppressed(address: ColumnElement[str]) -> ColumnElement[bool]:
    """True where `address` (lower-cased) has no suppression: for a statement that checks
    and writes at once (mails/queue.py)."""
    return ~exists().where(suppressions.c.address == address)


def suppression_of(address: str) -> Select[tuple[str]]:
    """The query for `address`'s suppression (a row when it is suppressed)."""
    return select(suppressions.c.address).where(suppressions.c.address == address.lower())


_SUPPRESSED = select(suppressions.c.address).where(suppressions.c.address == bindparam("address"))


async def is_suppressed(conn: AsyncConnection, address: str) -> bool:
    found = await conn.execute(_SUPPRESSED, {"address": address.lower()})  # built once
    return found.first() is not None


async def list_suppressions(engine: AsyncEngine, limit: int = 1000) -> list[Suppression]:
    query = select(suppressions).order_by(suppressions.c.created_at.desc()).limit(limit)
    async with engine.connect() as conn:
        return [Suppression(**row._mapping) for row in await conn.execute(query)]


async def lift(engine: AsyncEngine, address: str) -> bool:
    """Remove a suppression; whether there was one."""
    async with engine.begin() as conn:
        gone = await conn.execute(
            delete(suppressions).where(suppressions.c.address == address.lower())
        )
    return bool(gone.rowcount)
