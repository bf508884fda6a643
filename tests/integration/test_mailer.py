"""regmail.mailer inside an application's own transaction, for every kind of connection an
application holds, on SQLite and PostgreSQL: a rolled-back transaction leaves no mail, a
committed one is delivered once by regmail's worker."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from regmail.mail.sink import Mailbox
from regmail.mailer import InvalidMail, Mailer, NotInTransaction
from regmail.settings import Settings
from tests.support.accounts import mails_with
from tests.support.app_kinds import KINDS
from tests.support.processes import regmail_cli, settings_env, start_regmail
from tests.support.service import Service, make_settings, running_service

ROOT = Path(__file__).resolve().parents[2]
APP_KINDS = "tests.support.app_kinds:KINDS"
ORDER = {"order": "A1", "items": 2}
INSERT_USER = "INSERT INTO app_users (email) VALUES (:email)"


class RolledBack(Exception):
    pass


def _sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def _dbapi_connect(url: str) -> Any:
    if url.startswith("sqlite"):
        return sqlite3.connect(url.split("///", 1)[1])
    return psycopg.connect(url.replace("postgresql+asyncpg", "postgresql"))


# One host transaction per style: insert the application's row, queue the mail, then commit
# or roll back. Each returns the mail's id (None when rolled back).


async def _sqlalchemy_async(svc: Service, mailer: Mailer, email: str, commit: bool) -> Any:
    async with svc.runtime.engine.connect() as conn:
        await conn.execute(text(INSERT_USER), {"email": email})
        mail_id = await mailer.queue_async(conn, "order_shipped", email, ORDER)
        await (conn.commit() if commit else conn.rollback())
    return mail_id if commit else None


async def _sqlalchemy_async_session(svc: Service, mailer: Mailer, email: str, commit: bool) -> Any:
    async with AsyncSession(svc.runtime.engine) as session:
        await session.execute(text(INSERT_USER), {"email": email})
        mail_id = await mailer.queue_async(session, "order_shipped", email, ORDER)
        await (session.commit() if commit else session.rollback())
    return mail_id if commit else None


def _sqlalchemy(url: str, mailer: Mailer, email: str, commit: bool, orm: bool) -> Any:
    engine = create_engine(_sync_url(url))
    try:
        with Session(engine) if orm else engine.connect() as conn:
            conn.execute(text(INSERT_USER), {"email": email})
            mail_id = mailer.queue(conn, "order_shipped", email, ORDER)
            conn.commit() if commit else conn.rollback()
    finally:
        engine.dispose()
    return mail_id if commit else None


def _dbapi(url: str, mailer: Mailer, email: str, commit: bool) -> Any:
    conn = _dbapi_connect(url)
    try:
        placeholder = "?" if isinstance(conn, sqlite3.Connection) else "%s"
        conn.execute(f"INSERT INTO app_users (email) VALUES ({placeholder})", (email,))
        mail_id = mailer.queue(conn, "order_shipped", email, ORDER)
        conn.commit() if commit else conn.rollback()
    finally:
        conn.close()
    return mail_id if commit else None


def _django(settings: Settings, email: str, commit: bool) -> Any:
    outcome = "commit" if commit else "rollback"
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.django_host", settings.database_url, email, outcome],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() or None


Host = Callable[[Service, Mailer, Settings, str, bool], Awaitable[Any]]
HOSTS: dict[str, Host] = {
    "sqlalchemy-async": lambda svc, m, s, e, c: _sqlalchemy_async(svc, m, e, c),
    "sqlalchemy-async-session": lambda svc, m, s, e, c: _sqlalchemy_async_session(svc, m, e, c),
    "sqlalchemy": lambda svc, m, s, e, c: asyncio.to_thread(
        _sqlalchemy, s.database_url, m, e, c, False
    ),
    "sqlalchemy-session": lambda svc, m, s, e, c: asyncio.to_thread(
        _sqlalchemy, s.database_url, m, e, c, True
    ),
    "dbapi": lambda svc, m, s, e, c: asyncio.to_thread(_dbapi, s.database_url, m, e, c),
    "django": lambda svc, m, s, e, c: asyncio.to_thread(_django, s, e, c),
}


@pytest.mark.parametrize("style", list(HOSTS))
async def test_a_mail_shares_the_fate_of_its_transaction(
    style: str, database_url: str, tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, database_url=database_url, smtp_url=url, kinds=[APP_KINDS])
    mailer = Mailer(settings)
    async with running_service(settings) as svc:
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE app_users (email VARCHAR(320) PRIMARY KEY)"))
        host = HOSTS[style]
        assert await host(svc, mailer, settings, "gone@example.com", False) is None
        kept = await host(svc, mailer, settings, "kept@example.com", True)
        [sent] = await mails_with(mailbox, "Order A1 has shipped")
        [row] = await svc.wait_for_rows(lambda r: r.status == "sent")
        async with svc.runtime.engine.connect() as conn:
            users = (await conn.execute(text("SELECT email FROM app_users"))).scalars().all()
    assert (row.id, row.recipient, row.kind) == (kept, "kept@example.com", "order_shipped")
    assert sent.to == ["kept@example.com"] and len(mailbox.all()) == 1
    assert users == ["kept@example.com"]


def test_a_connection_that_commits_every_statement_is_refused(tmp_path: Path) -> None:
    mailer = Mailer(make_settings(tmp_path, kinds=[APP_KINDS]))
    conn = sqlite3.connect(tmp_path / "app.db", isolation_level=None)
    with pytest.raises(NotInTransaction):
        mailer.queue(conn, "order_shipped", "ada@example.com", ORDER)
    with pytest.raises(TypeError, match="queue_async"):
        mailer.queue(AsyncConnection.__new__(AsyncConnection), "order_shipped", "a@b.c", ORDER)


@pytest.mark.parametrize(
    ("kind", "to", "context", "locale", "field"),
    [
        ("no_such_kind", "ada@example.com", ORDER, "en", "kind"),
        ("order_shipped", "ada@example.com\r\nBcc: x@example.com", ORDER, "en", "to"),
        ("order_shipped", "not an address", ORDER, "en", "to"),
        ("order_shipped", "ada@example.com", {"order": "A1"}, "en", "context.items"),
        ("order_shipped", "ada@example.com", ORDER, "fr", "locale"),
    ],
)
def test_a_mail_regmail_cannot_send_is_refused_before_any_write(
    tmp_path: Path, kind: str, to: str, context: dict[str, Any], locale: str, field: str
) -> None:
    mailer = Mailer(make_settings(tmp_path, kinds=[APP_KINDS]))
    conn = sqlite3.connect(tmp_path / "app.db")  # no regmail tables: nothing may be written
    with pytest.raises(InvalidMail) as refused:
        mailer.queue(conn, kind, to, context, locale=locale)
    assert refused.value.field == field
    assert not conn.in_transaction


async def test_regmail_worker_delivers_an_applications_kinds(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    """The application queues with its own kinds; `regmail worker --kinds` knows them."""
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url)  # no REGMAIL_KINDS
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    conn = _dbapi_connect(settings.database_url)
    conn.execute("CREATE TABLE app_users (email TEXT PRIMARY KEY)")
    await asyncio.to_thread(
        _dbapi, settings.database_url, Mailer(settings, KINDS), "a@example.com", True
    )
    log = tmp_path / "worker.log"
    # From the application's directory, where its package (here: tests.support) imports.
    worker = start_regmail(settings, "worker", "--kinds", APP_KINDS, log=log, cwd=ROOT)
    try:
        [mail] = await mails_with(mailbox, "Order A1 has shipped")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0, log.read_text()
    assert mail.to == ["a@example.com"]
