"""Writing a mail and its outbox row inside the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.db.tables import mails, outbox
from regmail.mail.sealing import Sealer
from regmail.tracing import current_traceparent

OUTBOX_CHANNEL = "regmail_outbox"


@dataclass(frozen=True)
class NewMail:
    kind: str
    recipient: str
    locale: str
    payload: dict[str, Any]
    account_id: str | None = None
    expires_at: datetime | None = None


async def enqueue_mail(conn: AsyncConnection, mail: NewMail, now: datetime, sealer: Sealer) -> str:
    """Store the mail (state `queued`, payload sealed) and its outbox row; both commit
    with the caller."""
    mail_id = str(uuid.uuid4())
    await conn.execute(
        mails.insert().values(
            id=mail_id,
            account_id=mail.account_id,
            kind=mail.kind,
            recipient=mail.recipient,
            locale=mail.locale,
            payload=sealer.seal(mail_id, mail.payload),
            status="queued",
            attempts=0,
            created_at=now,
            updated_at=now,
            expires_at=mail.expires_at,
        )
    )
    await enqueue_outbox_rows(conn, [(mail_id, mail.recipient)], now, current_traceparent())
    return mail_id


async def enqueue_outbox_rows(
    conn: AsyncConnection, rows: list[tuple[str, str]], now: datetime, trace: str = ""
) -> None:
    """Outbox rows for (mail_id, key) pairs, due now, carrying `trace` (a traceparent).

    On PostgreSQL a NOTIFY goes with them: it is delivered when the transaction commits
    (and not at all if it rolls back), so listening workers wake exactly when there is work.
    """
    await conn.execute(
        outbox.insert(),
        [
            {
                "mail_id": mail_id,
                "key": key,
                "status": "ready",
                "available_at": now,
                "deliveries": 0,
                "created_at": now,
                "trace": trace or None,
            }
            for mail_id, key in rows
        ],
    )
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
