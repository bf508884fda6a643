"""A sign-up's writes ride in the statement that queues its mail (db/carried.py): on
PostgreSQL every sign-up, for a new, a pending or an active address, is two statements
(the look-up and one write), so the three cost the same trips, and in autocommit (no BEGIN
and COMMIT: db/engine.py one_write) unless an event is written beside them; each write
still changes exactly what it names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select, update

from regmail.accounts import store
from regmail.accounts.addresses import parse_address
from regmail.accounts.status import AccountStatus
from regmail.db.migrate import migrate
from regmail.db.tables import account_tokens, accounts, mails, outbox
from regmail.runtime import Runtime
from regmail.settings import Settings
from tests.support.service import PASSWORD, make_settings
from tests.support.webhook_receiver import SECRET

ADDRESS = parse_address("carried@example.com")


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with _runtime(make_settings(tmp_path, database_url=database_url)) as runtime:
        yield runtime


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings)
    await migrate(runtime.engine)
    try:
        yield runtime
    finally:
        runtime.hashing.close()
        await runtime.engine.dispose()


async def _statements_of_sign_up(
    runtime: Runtime, locale: str, in_transaction: list[bool] | None = None
) -> list[str]:
    """The first word of each statement of one sign-up; whether each ran inside a
    transaction goes to `in_transaction` (PostgreSQL: asyncpg's own view)."""
    seen: list[str] = []

    def count(conn: Connection, *args: object) -> None:
        seen.append(str(args[1]).lstrip().split(None, 1)[0])
        if in_transaction is not None:
            driver = conn.connection.driver_connection
            in_transaction.append(driver.is_in_transaction())  # type: ignore[union-attr]

    event.listen(runtime.engine.sync_engine, "after_cursor_execute", count)
    try:
        await runtime.accounts.signup.register(ADDRESS, PASSWORD, locale)
    finally:
        event.remove(runtime.engine.sync_engine, "after_cursor_execute", count)
    return seen


async def _counts(runtime: Runtime) -> tuple[int, int, int]:
    async with runtime.engine.connect() as conn:
        return (
            await conn.scalar(select(func.count()).select_from(account_tokens)) or 0,
            await conn.scalar(select(func.count()).select_from(mails)) or 0,
            await conn.scalar(select(func.count()).select_from(outbox)) or 0,
        )


async def test_each_sign_up_writes_in_the_statement_that_queues_its_mail(
    runtime: Runtime,
) -> None:
    on_postgres = runtime.engine.dialect.name == "postgresql"
    in_transaction: list[bool] = []

    new = await _statements_of_sign_up(runtime, "en", in_transaction if on_postgres else None)
    async with runtime.engine.connect() as conn:
        account = await store.by_key(conn, ADDRESS.key)
    assert account is not None and account.status == AccountStatus.PENDING
    assert await _counts(runtime) == (1, 1, 1)

    # Signed up again in another language: the new password and a token, nothing else of
    # the account (its locale, id and status stay as they were).
    pending = await _statements_of_sign_up(runtime, "de")
    async with runtime.engine.connect() as conn:
        again = await store.by_key(conn, ADDRESS.key)
    assert again is not None and again.password_hash != account.password_hash
    assert (again.id, again.locale, again.status) == (account.id, "en", AccountStatus.PENDING)
    assert await _counts(runtime) == (2, 2, 2)

    async with runtime.engine.begin() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == account.id).values(status="active")
        )
    active = await _statements_of_sign_up(runtime, "en")
    assert await _counts(runtime) == (2, 3, 3)

    if on_postgres:
        # The look-up, then one statement with every write: it was four for a new address.
        assert new == pending == active == ["SELECT", "WITH"]
        assert in_transaction == [False, False]
    else:
        # SQLite runs each write by itself (statements of a brief transaction are no trip).
        assert (len(new), len(pending), len(active)) == (5, 5, 3)


async def test_a_sign_up_with_an_event_beside_its_mail_is_one_transaction(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=postgres_url,
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret=SECRET,
    )
    async with _runtime(settings) as runtime:
        in_transaction: list[bool] = []
        seen = await _statements_of_sign_up(runtime, "en", in_transaction)
        assert seen == ["SELECT", "WITH", "WITH"]  # the look-up, the mail, the event
        assert in_transaction == [True, True, True]
