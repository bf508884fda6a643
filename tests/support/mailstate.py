"""Queueing many mails at once and counting them by state, for the load tests and bench."""

from __future__ import annotations

from sqlalchemy import func, select

from regmail.clock import utcnow
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.db.tables import mails, outbox
from regmail.mails.kinds import BUILTIN_KINDS, Kinds
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.sealing import Sealer
from regmail.mails.status import PENDING, MailStatus
from regmail.settings import Settings

BATCH = 500


async def queue_mails(settings: Settings, count: int, prefix: str = "user") -> set[str]:
    """Migrate, then enqueue `count` activation mails (as sign-ups would); their ids."""
    engine = create_engine(settings)
    queue = MailQueue(Kinds.load(*BUILTIN_KINDS), Sealer.from_settings(settings))
    ids: set[str] = set()
    try:
        await migrate(engine)
        for start in range(0, count, BATCH):
            async with engine.begin() as conn:
                for i in range(start, min(count, start + BATCH)):
                    mail = NewMail("activation", f"{prefix}{i}@example.com", "en", {"token": "t"})
                    mail_id = await queue.enqueue(conn, mail, utcnow())
                    assert mail_id is not None
                    ids.add(mail_id)
    finally:
        await engine.dispose()
    return ids


async def count_mails(settings: Settings, *statuses: MailStatus) -> int:
    """Mails in any of `statuses`."""
    engine = create_engine(settings)
    try:
        query = select(func.count()).select_from(mails).where(mails.c.status.in_(statuses))
        async with engine.connect() as conn:
            return int(await conn.scalar(query) or 0)
    finally:
        await engine.dispose()


async def count_outbox(settings: Settings) -> int:
    """Outbox rows not yet relayed (or, with broker=db, not yet delivered)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(outbox)) or 0)
    finally:
        await engine.dispose()


async def none_unsent(settings: Settings) -> bool:
    """Every mail is `sent` (a probe for `eventually`)."""
    return await count_mails(settings, *PENDING, MailStatus.DEAD) == 0


async def none_pending(settings: Settings) -> bool:
    """Every mail is `sent` or `dead` (a probe for `eventually`)."""
    return await count_mails(settings, *PENDING) == 0
