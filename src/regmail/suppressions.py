"""The suppression list: an address whose server said "no such user" gets no more mail.

Mailing a dead address again and again hurts the sender's reputation with providers, and
a sign-up flood for addresses that do not exist should not turn into a bounce flood. The
worker adds an address on a hard bounce; operators list and lift suppressions (admin API,
`regmail suppressions`); sign-up for a suppressed address still answers 202.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.db.tables import suppressions

# RFC 3463: 5.1.x is a bad destination mailbox or address. Without an enhanced code, a
# 550 that says the user is unknown means the same.
_ENHANCED = re.compile(r"^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})")
_UNKNOWN_USER = re.compile(r"user unknown|no such user|does not exist|unknown recipient", re.I)


def is_hard_bounce(reply: str) -> bool:
    """Whether an SMTP reply says the address itself does not exist."""
    enhanced = _ENHANCED.match(reply)
    if enhanced:
        return enhanced.group(1).startswith("5.1.")
    return reply.startswith(("550", "551", "553")) and bool(_UNKNOWN_USER.search(reply))


@dataclass(frozen=True)
class Suppression:
    address: str
    reason: str
    mail_id: str | None
    created_at: datetime

    def as_json(self) -> dict[str, str | None]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


async def suppress(
    conn: AsyncConnection, address: str, reason: str, mail_id: str, now: datetime
) -> None:
    key = address.lower()
    if await is_suppressed(conn, key):
        return
    await conn.execute(
        suppressions.insert().values(
            address=key, reason=reason[:1000], mail_id=mail_id, created_at=now
        )
    )


async def is_suppressed(conn: AsyncConnection, address: str) -> bool:
    query = select(suppressions.c.address).where(suppressions.c.address == address.lower())
    return (await conn.execute(query)).first() is not None


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
