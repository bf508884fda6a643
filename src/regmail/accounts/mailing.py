"""What an account's changes send: mail to its address, within the per-address limits, and
events to the application (mails/events.py), both in the transaction of the change.

Mail that a stranger can cause (sign-up, resend, reset, an address change's link) counts
against the address: at most `mails_per_address_per_hour`, and none within
`resend_cooldown_seconds` of the last, so nobody can flood an inbox through regmail.
Notices of a change the account's owner made (password changed, address changed) are not
limited: they must always arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.accounts.store import Account
from regmail.event_types import EventType
from regmail.mails.events import Events
from regmail.mails.kinds import Kind
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.views import recent_to
from regmail.settings import Settings


class AccountMail:
    def __init__(self, queue: MailQueue, events: Events, settings: Settings) -> None:
        self.queue = queue
        self._events = events
        self._settings = settings

    async def event(
        self,
        conn: AsyncConnection,
        event_type: EventType,
        account: Account,
        now: datetime,
        **extra: Any,
    ) -> list[str]:
        """The event of a change to `account` (call queue.committed with the ids after the
        commit)."""
        data = {"account_id": account.id, "email": account.email, **extra}
        return await self._events.emit(conn, event_type, account.id, data, now)

    async def allowed(self, conn: AsyncConnection, recipient: str, now: datetime) -> bool:
        """Whether one more limited mail to this address keeps within the limits."""
        count, latest = await recent_to(conn, recipient, now - timedelta(hours=1))
        if count >= self._settings.mails_per_address_per_hour:
            return False
        cooldown = timedelta(seconds=self._settings.resend_cooldown_seconds)
        return latest is None or now - latest >= cooldown

    async def send(
        self,
        conn: AsyncConnection,
        kind: Kind,
        recipient: str,
        locale: str,
        now: datetime,
        *,
        account_id: str,
        context: Mapping[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> str | None:
        """Queue the mail in the caller's transaction; its id (None: suppressed)."""
        mail = NewMail(kind.name, recipient, locale, context or {}, account_id, expires_at)
        return await self.queue.enqueue(conn, mail, now)
