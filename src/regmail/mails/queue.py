"""Queueing a message (a mail, or an event for one destination): its row and its outbox row,
inside the caller's transaction.

The message is checked here, when it is queued, never first in a worker: its kind must be
registered, its locale one the kind has templates for, its context what the kind needs, and
the recipient a single line. Its context is sealed before it touches the database. A mail to
a suppressed address (it hard-bounced) is not queued at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import Insert, Select, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from regmail.db.carried import Write, bind_name, bound, carrying, insert_bound, values_of
from regmail.db.tables import mails
from regmail.mails.kinds import Channel, InvalidMail, Kinds
from regmail.mails.outbox import (
    Wakeup,
    after_values,
    insert_values,
    notifying_insert_after,
    outbox_values,
)
from regmail.mails.sealing import Sealer
from regmail.mails.status import MailStatus
from regmail.mails.suppressions import not_suppressed
from regmail.tracing import current_traceparent

log = structlog.get_logger(__name__)
_INSERT_MAIL = mails.insert()  # built once (accounts/store.py says why)
_MAIL = "mail"  # the prefix of the mail's bound values (db/carried.py)
# The recipient lower-cased, as suppressions keeps it.
_SUPPRESSION_KEY = bind_name("suppression", "address")

EVENT_KEY = "event:"  # an event's broker key: ordered per account (a Kafka partition key too)


@dataclass(frozen=True)
class NewMail:
    kind: str
    recipient: str  # as mailed (ASCII domain)
    locale: str
    context: Mapping[str, Any] = field(default_factory=dict)
    account_id: str | None = None
    expires_at: datetime | None = None  # not worth sending after (a link inside expires)
    key: str | None = None  # what a broker orders by; the recipient unless given


@lru_cache(maxsize=4)
def _insert_unless_suppressed(columns: tuple[str, ...]) -> Insert:
    """The mails row, written only if its recipient is not suppressed: the check and the
    INSERT in one statement (they were two trips to the database a mail)."""
    binds = (bindparam(bind_name(_MAIL, name), type_=mails.c[name].type) for name in columns)
    unless = select(*binds).where(not_suppressed(bindparam(_SUPPRESSION_KEY, type_=String())))
    return mails.insert().from_select(columns, unless)


@lru_cache(maxsize=32)
def _queue_on_postgres(
    columns: tuple[str, ...], suppressible: bool, carried: tuple[UpdateBase, ...]
) -> Select[Any]:
    """PostgreSQL: the mails row (unless its recipient is suppressed, if `suppressible`),
    its outbox row and the NOTIFY in one statement, carrying the writes before the mail
    (db/carried.py); a row back if the mail and its outbox row were written."""
    if suppressible:
        insert = _insert_unless_suppressed(columns)
    else:
        insert = insert_bound(mails, _MAIL, columns)
    return carrying(notifying_insert_after(insert.returning(mails.c.id).cte("mail")), carried)


def message_key(channel: str, recipient: str, account_id: str | None, mail_id: str) -> str:
    """What a broker orders a message by: a mail's recipient; an event's account."""
    if channel == Channel.EVENT:
        return f"{EVENT_KEY}{account_id or mail_id}"
    return recipient


@dataclass(frozen=True)
class QueuedRows:
    mail_id: str
    mail: dict[str, Any]  # the mails row
    outbox: dict[str, Any]  # its outbox row
    suppressible: bool  # a mail to an address: not queued when the address is suppressed


class MailQueue:
    def __init__(self, kinds: Kinds, sealer: Sealer, wakeup: Wakeup | None = None) -> None:
        self.kinds = kinds
        self._sealer = sealer
        self._wakeup = wakeup or Wakeup()

    def rows(self, mail: NewMail, now: datetime) -> QueuedRows:
        """The mail's row (`queued`, context sealed) and its outbox row, checked; InvalidMail
        if it is not a mail regmail can send. Every way of queueing writes these."""
        mail_id = str(uuid.uuid4())
        payload = self.sealed_context(mail.kind, mail.locale, mail_id, mail.context)
        channel = self.kinds[mail.kind].channel
        if "\r" in mail.recipient or "\n" in mail.recipient:
            raise InvalidMail("recipient", "one line")
        if channel == Channel.MAIL and "@" not in mail.recipient:
            raise InvalidMail("recipient", "one address, without line breaks")
        values = {
            "id": mail_id,
            "account_id": mail.account_id,
            "channel": channel,
            "kind": mail.kind,
            "recipient": mail.recipient,
            "locale": mail.locale,
            "payload": payload,
            "status": MailStatus.QUEUED,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "expires_at": mail.expires_at,
        }
        key = mail.key or message_key(channel, mail.recipient, mail.account_id, mail_id)
        queued = outbox_values(mail_id, key, now, current_traceparent())
        return QueuedRows(mail_id, values, queued, channel == Channel.MAIL)

    async def enqueue(
        self, conn: AsyncConnection, mail: NewMail, now: datetime, carried: Sequence[Write] = ()
    ) -> str | None:
        """Store the mail and its outbox row, to commit with the caller, after the `carried`
        writes (written even when the mail is not); the mail's id, or None when the
        recipient is suppressed."""
        rows = self.rows(mail, now)
        values = bound(_MAIL, rows.mail)
        if rows.suppressible:
            values[_SUPPRESSION_KEY] = mail.recipient.lower()
        if conn.dialect.name == "postgresql":
            writes = tuple(write.statement for write in carried)
            together = _queue_on_postgres(tuple(rows.mail), rows.suppressible, writes)
            values |= after_values(rows.outbox) | values_of(carried)
            written = await conn.execute(together, values)
            return rows.mail_id if written.first() is not None else None
        for write in carried:
            await write.run(conn)
        if not rows.suppressible:
            await conn.execute(_INSERT_MAIL, rows.mail)
        else:
            written = await conn.execute(_insert_unless_suppressed(tuple(rows.mail)), values)
            if written.rowcount == 0:
                return None
        await insert_values(conn, [rows.outbox])
        return rows.mail_id

    def committed(self, *mail_ids: str | None) -> None:
        """After the commit: log each message's id (the key to its whole life in the logs)
        and wake the consumers of this process (other processes hear NOTIFY or poll)."""
        queued = [mail_id for mail_id in mail_ids if mail_id is not None]
        for mail_id in queued:
            log.info("mail_queued", mail_id=mail_id)
        if queued:
            self._wakeup.ring()

    def sealed_context(
        self, kind: str, locale: str, mail_id: str, context: Mapping[str, Any]
    ) -> dict[str, str]:
        """The context checked against its kind and sealed for the mail `mail_id`."""
        checked = self.kinds.require(kind).validate(locale, context)
        return self._sealer.seal(mail_id, checked)
