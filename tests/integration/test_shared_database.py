"""regmail in a database it shares with an application: its tables and its Alembic history
are its own (regmail_*), and a database migrated before that upgrades with nothing lost."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.db.engine import create_engine
from regmail.db.migrate import schema_revisions
from regmail.db.tables import VERSION_TABLE, mails, metadata, outbox, suppressions
from regmail.mail.sink import Mailbox
from tests.support.accounts import mails_with
from tests.support.processes import regmail_cli
from tests.support.service import make_settings, running_service

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy-0006"
DUMPED_AT = datetime(2026, 12, 2, 5, 8, 19)  # UTC, just after the last row was written
# A time in the dumps: '2026-12-02 05:08:13.939534' (SQLite), with '+00' (PostgreSQL).
TIMESTAMP = re.compile(r"'(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(\+00)?'")
# An application's own schema, with names regmail used to take, and its Alembic history
# (at a revision id regmail's first migration also has).
APPLICATION = [
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(50))",
    "CREATE TABLE mails (id INTEGER PRIMARY KEY, subject VARCHAR(50))",
    "CREATE INDEX ix_mails_subject ON mails (subject)",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
    "INSERT INTO alembic_version VALUES ('0001')",
    "INSERT INTO accounts VALUES (1, 'the application''s')",
    "INSERT INTO mails VALUES (1, 'the application''s')",
]


async def _run(engine: AsyncEngine, statements: list[str]) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def _rows(engine: AsyncEngine, query: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(query))]


async def test_migrate_beside_an_applications_tables_and_history(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    engine = create_engine(settings)
    try:
        await _run(engine, APPLICATION)
        done = await regmail_cli(settings, "migrate")
        assert done.returncode == 0, done.stderr
        found, expected = await schema_revisions(engine)
        assert found == expected
        assert await _rows(engine, "SELECT * FROM alembic_version") == [("0001",)]
        assert await _rows(engine, "SELECT * FROM accounts") == [(1, "the application's")]
        assert await _rows(engine, "SELECT * FROM mails") == [(1, "the application's")]
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        theirs = {"accounts", "mails", "alembic_version"}
        assert all(t.startswith("regmail_") for t in tables - theirs), tables
    finally:
        await engine.dispose()


def _drift(conn: Connection) -> list[Any]:
    """How the schema differs from db/tables.py. On SQLite the one unique constraint keeps
    its old name inside its table's definition (db/legacy.py says why): not counted."""
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    renamed_in_place = conn.dialect.name == "sqlite"
    return [
        change
        for change in compare_metadata(context, metadata)
        if not (
            renamed_in_place
            and change[0] in ("remove_constraint", "add_constraint")
            and change[1].table.name == "regmail_accounts"
        )
    ]


async def _load_legacy(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("///", 1)[1]) as db:
            db.executescript(_as_if_written_now((LEGACY / "sqlite.sql").read_text()))
        return
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(_as_if_written_now((LEGACY / "postgres.sql").read_text()))
    finally:
        await conn.close()


def _as_if_written_now(dump: str) -> str:
    """The dump with every time moved forward by its age: its activation links expire a
    day after they were issued, and a dump older than that would test expiry instead."""
    age = datetime.now(UTC).replace(tzinfo=None) - DUMPED_AT

    def moved(match: re.Match[str]) -> str:
        then = datetime.fromisoformat(match.group(1))
        return f"'{(then + age).isoformat(sep=' ')}{match.group(2) or ''}'"

    return TIMESTAMP.sub(moved, dump)


async def test_a_database_from_before_the_prefix_upgrades_with_nothing_lost(
    database_url: str, tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    await _load_legacy(database_url)
    # The key the fixture's mails were sealed with is the tests' (TEST_DEFAULTS).
    settings = make_settings(tmp_path, database_url=database_url, smtp_url=url)
    done = await regmail_cli(settings, "migrate")
    assert done.returncode == 0, done.stderr
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            by_status = dict(
                (
                    await conn.execute(
                        select(mails.c.status, func.count())
                        .where(mails.c.channel == "mail")
                        .group_by(mails.c.status)
                    )
                ).all()
            )
            waiting = await conn.scalar(select(func.count()).select_from(outbox))
            suppressed = await conn.scalar(select(func.count()).select_from(suppressions))
            drift = await conn.run_sync(_drift)
        found, expected = await schema_revisions(engine)
    finally:
        await engine.dispose()
    assert found == expected
    assert drift == [], f"the renamed schema differs from db/tables.py: {drift}"
    assert tables and all(t.startswith("regmail_") for t in tables), tables
    assert by_status == {"queued": 1, "sending": 1, "sent": 1, "retrying": 1, "dead": 1}
    assert (waiting, suppressed) == (9, 1)  # 4 mails not finished and 5 events
    async with running_service(settings) as svc:  # and it works: the queued mail goes out
        [sent] = await mails_with(mailbox, "Activate your account")
        assert svc.runtime is not None
    assert sent.to == ["user0@example.com"]
