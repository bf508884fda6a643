"""Mailer: a mail checked, sealed and written in the caller's transaction, whatever the
caller's connection is (the writers in writers.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from regmail.accounts.addresses import parse_address
from regmail.clock import utcnow
from regmail.mailer.writers import NotInTransaction, writer_for
from regmail.mails.kinds import InvalidMail, Kind, Kinds
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.sealing import Sealer
from regmail.settings import Settings

__all__ = ["Mailer", "NotInTransaction"]


class Mailer:
    """Queues mails of regmail's kinds, those REGMAIL_KINDS names and `kinds`; the worker
    that delivers them must know the same kinds and secret key."""

    def __init__(self, settings: Settings | None = None, kinds: Sequence[Kind] = ()) -> None:
        settings = settings or Settings()  # type: ignore[call-arg]  # from the environment
        known = Kinds.configured(settings)
        self.kinds = Kinds([*known.values(), *kinds]) if kinds else known
        self._queue = MailQueue(self.kinds, Sealer.from_settings(settings))

    def queue(
        self,
        connection: Any,
        kind: str,
        to: str,
        context: Mapping[str, Any] | None = None,
        *,
        locale: str = "en",
    ) -> str | None:
        """Write the mail in `connection`'s current transaction: its id, or None when the
        address is suppressed (it hard-bounced). InvalidMail names what is wrong;
        NotInTransaction when the connection would commit each statement on its own."""
        if isinstance(connection, AsyncConnection | AsyncSession):
            raise TypeError("an asyncio connection: use `await mailer.queue_async(...)`")
        writer = writer_for(connection)
        return writer.write(self._queue.rows(self._mail(kind, to, context, locale), utcnow()))

    async def queue_async(
        self,
        connection: AsyncConnection | AsyncSession,
        kind: str,
        to: str,
        context: Mapping[str, Any] | None = None,
        *,
        locale: str = "en",
    ) -> str | None:
        """`queue` for SQLAlchemy's AsyncConnection or AsyncSession."""
        conn = (
            connection
            if isinstance(connection, AsyncConnection)
            else (await connection.connection())
        )
        return await self._queue.enqueue(conn, self._mail(kind, to, context, locale), utcnow())

    def _mail(self, kind: str, to: str, context: Mapping[str, Any] | None, locale: str) -> NewMail:
        try:
            address = parse_address(to)  # the rules of sign-up: one line, RFC 5321 sizes
        except ValueError as error:
            raise InvalidMail("to", str(error)) from None
        return NewMail(kind, address.ascii, locale, context or {})
