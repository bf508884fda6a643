"""An outbox row's id names one row for good: a worker's late settle of a row it claimed
never lands on a row written after it (a replay's, a new mail's)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select

from regmail.clock import utcnow
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.db.tables import outbox
from regmail.mails.outbox import Settle, claim_rows, insert_rows, replace_row, settle_rows
from regmail.mails.status import OutboxStatus
from regmail.settings import Settings

LEASE = timedelta(seconds=60)


async def test_a_late_settle_does_not_reach_the_row_a_replay_wrote(database_url: str) -> None:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    engine = create_engine(settings)
    await migrate(engine)
    try:
        async with engine.begin() as conn:
            await insert_rows(conn, [("mail-1", "key-1")], utcnow())
            [claimed] = await claim_rows(conn, 1, utcnow(), LEASE)
        # The operator replays the mail (its row replaced by one due now) while the worker
        # that claimed the old row has yet to settle it: the SQLite race seen in a clean
        # clone of test_secret_keys, where the replayed mail then never went.
        async with engine.begin() as conn:
            await replace_row(conn, "mail-1", "key-1", utcnow())
        async with engine.begin() as conn:
            await settle_rows(conn, [Settle(claimed.id, dead="secret-key")])
        async with engine.connect() as conn:
            rows = (await conn.execute(select(outbox.c.id, outbox.c.status))).all()
        [(row_id, status)] = rows
        assert row_id != claimed.id
        assert status == OutboxStatus.READY
    finally:
        await engine.dispose()


async def test_an_existing_sqlite_outbox_keeps_its_rows_through_the_rebuild(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'regmail.db'}"
    engine = create_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    try:
        await migrate(engine, "0007")  # the schema before ids were kept from coming back
        async with engine.begin() as conn:
            await insert_rows(conn, [("mail-1", "key-1"), ("mail-2", "key-2")], utcnow())
        await migrate(engine)
        async with engine.begin() as conn:
            await insert_rows(conn, [("mail-3", "key-3")], utcnow())
            await conn.execute(delete(outbox).where(outbox.c.mail_id == "mail-3"))
            await insert_rows(conn, [("mail-4", "key-4")], utcnow())
        async with engine.connect() as conn:
            query = select(outbox.c.mail_id, outbox.c.id).order_by(outbox.c.id)
            rows = [tuple(r) for r in await conn.execute(query)]
    finally:
        await engine.dispose()
    assert rows == [("mail-1", 1), ("mail-2", 2), ("mail-4", 4)]
