"""Finished mails are deleted after the retention period; nothing unfinished is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from regmail.clock import utcnow
from regmail.db.engine import create_engine
from regmail.db.tables import mails, outbox
from regmail.mails.purge import purge_finished
from tests.support.mailstate import queue_mails
from tests.support.service import make_settings


async def test_only_sent_and_dead_mails_past_retention_are_purged(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    old_sent, old_dead, new_sent, old_retrying = sorted(await queue_mails(settings, 4))
    now = utcnow()
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            for mail_id, status, age in (
                (old_sent, "sent", 40),
                (old_dead, "dead", 40),
                (new_sent, "sent", 1),
                (old_retrying, "retrying", 40),
            ):
                changed = now - timedelta(days=age)
                await conn.execute(
                    update(mails)
                    .where(mails.c.id == mail_id)
                    .values(status=status, updated_at=changed)
                )
            # As the worker leaves them: a sent mail's outbox row is gone, a dead one's stays.
            await conn.execute(outbox.delete().where(outbox.c.mail_id.in_([old_sent, new_sent])))
            await conn.execute(
                update(outbox).where(outbox.c.mail_id == old_dead).values(status="dead")
            )

        assert await purge_finished(engine, now - timedelta(days=30)) == 2

        async with engine.connect() as conn:
            left = set(await conn.scalars(select(mails.c.id)))
            queued = set(await conn.scalars(select(outbox.c.mail_id)))
        assert left == {new_sent, old_retrying}
        assert queued == {old_retrying}
        assert await purge_finished(engine, now - timedelta(days=30)) == 0
    finally:
        await engine.dispose()
