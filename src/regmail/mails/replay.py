"""An operator's replay: a `dead` or `retrying` mail queued again now, with a fresh retry
budget. A kind that can renew its mail (an activation mail issues a fresh token: the old
one went with the scrubbed payload) does so in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.clock import utcnow
from regmail.db.tables import mails
from regmail.mails.kinds import NotReplayable, Replay
from regmail.mails.outbox import replace_row
from regmail.mails.queue import MailQueue, message_key
from regmail.mails.status import MailStatus
from regmail.mails.views import MailView, read_mail
from regmail.settings import Settings

REPLAYABLE = (MailStatus.DEAD, MailStatus.RETRYING)


async def replay(
    engine: AsyncEngine, queue: MailQueue, settings: Settings, mail_id: str
) -> MailView:
    """LookupError for no such mail; NotReplayable when it may not be replayed."""
    now = utcnow()
    async with engine.begin() as conn:
        query = select(
            mails.c.status,
            mails.c.channel,
            mails.c.recipient,
            mails.c.kind,
            mails.c.locale,
            mails.c.account_id,
        )
        row = (await conn.execute(query.where(mails.c.id == mail_id))).first()
        if row is None:
            raise LookupError(mail_id)
        if row.status not in REPLAYABLE:
            raise NotReplayable(f"mail is {row.status}; only dead or retrying mails are replayed")
        renewed: dict[str, Any] = {}
        kind = queue.kinds.get(row.kind)
        if kind is not None and kind.secret and kind.renew is None:
            raise NotReplayable("its link went with its payload; ask for a new one")
        if kind is not None and kind.renew is not None:
            renewal = await kind.renew(conn, Replay(mail_id, row.account_id, now, settings))
            payload = queue.sealed_context(row.kind, row.locale, mail_id, renewal.context)
            renewed = {"payload": payload, "expires_at": renewal.expires_at}
        await conn.execute(
            update(mails)
            .where(mails.c.id == mail_id)
            .values(
                status=MailStatus.QUEUED,
                dead_reason=None,
                next_attempt_at=None,
                attempts_before_replay=mails.c.attempts,
                replayed_at=now,
                updated_at=now,
                **renewed,
            )
        )
        # In the same transaction, so a replay is never half done.
        key = message_key(row.channel, row.recipient, row.account_id, mail_id)
        await replace_row(conn, mail_id, key, now)
        # Read inside the transaction: the answer is the state the replay set, not
        # whatever a worker has made of it a moment later.
        replayed = await read_mail(conn, mail_id)
    queue.committed(mail_id)
    assert replayed is not None
    return replayed
