"""Throttling failed sign-in checks per address and client network, in the database (so it
holds across API processes).

The first `FREE_FAILURES` failures cost nothing; each one after makes the next check wait
twice as long as the last (1 s, 2 s, 4 s … at most `MAX_DELAY_SECONDS`). The key is the
address together with the client's network, never the account: an unknown address is
throttled exactly like a known one, and a stranger elsewhere does not slow the owner down.
A success forgets the failures. (The per-account limit, 100 failures in a row from
anywhere, is the account's own: accounts/credentials.py.)
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.db.tables import sign_in_failures
from regmail.networks import network_of

FREE_FAILURES = 5
MAX_DELAY_SECONDS = 900.0


def throttle_key(address_key: str, client: str) -> str:
    """The address and the client's network (/64 for IPv6, the address for IPv4)."""
    return hashlib.sha256(f"{address_key}|{network_of(client)}".encode()).hexdigest()


def delay_after(failures: int) -> timedelta:
    if failures < FREE_FAILURES:
        return timedelta(0)
    return timedelta(seconds=min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS))


async def current(conn: AsyncConnection, key: str) -> tuple[int, datetime | None]:
    """(failures counted for this key, when the next check may run)."""
    query = select(sign_in_failures.c.failures, sign_in_failures.c.blocked_until).where(
        sign_in_failures.c.key == key
    )
    row = (await conn.execute(query)).first()
    return (row.failures, row.blocked_until) if row is not None else (0, None)


async def record_failure(conn: AsyncConnection, key: str, now: datetime) -> None:
    """One more failure, counted in the database (two at once both count)."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        sign_in_failures
    )
    counted = insert.values(key=key, failures=1, updated_at=now).on_conflict_do_update(
        index_elements=[sign_in_failures.c.key],
        set_={"failures": sign_in_failures.c.failures + 1, "updated_at": now},
    )
    failures = await conn.scalar(counted.returning(sign_in_failures.c.failures))
    await conn.execute(
        update(sign_in_failures)
        .where(sign_in_failures.c.key == key)
        .values(blocked_until=now + delay_after(failures or 1))
    )


async def forget(conn: AsyncConnection, key: str) -> None:
    await conn.execute(delete(sign_in_failures).where(sign_in_failures.c.key == key))


async def purge_before(conn: AsyncConnection, before: datetime) -> None:
    """Rows untouched since `before` (their delays long over)."""
    await conn.execute(delete(sign_in_failures).where(sign_in_failures.c.updated_at < before))
