"""Queueing a mail checks the suppression list in the INSERT itself (mails/queue.py): a
suppressed recipient, whatever the case of its letters, gets no row; on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.clock import utcnow
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.db.tables import mails, outbox, suppressions
from regmail.mails.kinds import BUILTIN_KINDS, Kinds
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.sealing import Sealer
from tests.support.service import make_settings


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings(tmp_path, database_url=database_url))
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(
            suppressions.insert().values(
                address="ghost@example.com", reason="550 5.1.1", created_at=utcnow()
            )
        )
    yield engine
    await engine.dispose()


async def test_the_suppression_check_rides_with_the_mails_insert(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    queue = MailQueue(Kinds.load(*BUILTIN_KINDS), Sealer.from_settings(make_settings(tmp_path)))
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with engine.begin() as conn:
        for recipient in ("ghost@example.com", "Ghost@Example.COM"):
            statements.clear()
            mail = NewMail("activation", recipient, "en", {"token": "t"})
            assert await queue.enqueue(conn, mail, utcnow()) is None
            assert len(statements) == 1
        statements.clear()
        alive = NewMail("activation", "alive@example.com", "en", {"token": "t"})
        mail_id = await queue.enqueue(conn, alive, utcnow())
        # The check with the mail's INSERT, then the outbox row; on PostgreSQL the outbox
        # row and its NOTIFY ride in the same statement. It was a SELECT first, the NOTIFY
        # apart.
        assert len(statements) == (1 if engine.dialect.name == "postgresql" else 2)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(mails.c.id, mails.c.recipient))).all()
        queued = await conn.scalar(select(func.count()).select_from(outbox))
    assert [tuple(row) for row in rows] == [(mail_id, "alive@example.com")]
    assert queued == 1
