"""What an account's changes send: mail to its address, within the per-address limits, and
events to the application (mails/events.py), both in the transaction of the change.

Mail that a stranger can cause (sign-up, resend, reset, an address change's link) counts
against the address: at most `mails_per_address_per_hour`, and none within
`resend_cooldown_seconds` of the last, so nobody can flood an inbox through regmail.
Notices of a change the account's owner made (password changed, address changed) are not
limited: they must always arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.accounts import store
from regmail.accounts.addresses import Address, parse_address
from regmail.accounts.store import Account
from regmail.db.carried import Write
from regmail.event_types import EventType
from regmail.mails.events import Events
from regmail.mails.kinds import Kind
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.views import RECENT_TO, recent_in, recent_to
from regmail.settings import Settings

LIMIT_WINDOW = timedelta(hours=1)  # what mails_per_address_per_hour counts over


@dataclass(frozen=True)
class Addressee:
    """An address as mail to it finds it: its account, if any; the address to mail, the
    account's own when it has one (as it signed up with it); and whether one more limited
    mail to that address keeps within the limits."""

    account: Account | None
    address: Address
    allowed: bool


# The account and the mails recently queued to the address as given, in one statement:
# the look-up every sign-up, resend and reset starts with (it was two round trips).
_ACCOUNT_AND_RECENT = store.by_key_beside(RECENT_TO)


class AccountMail:
    def __init__(self, queue: MailQueue, events: Events, settings: Settings) -> None:
        self.queue = queue
        self._events = events
        self._settings = settings

    def emits(self, event_type: EventType) -> bool:
        """Whether a change of this type writes an event (some destination wants it)."""
        return self._events.wanted(event_type)

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

    async def addressee(self, conn: AsyncConnection, address: Address, now: datetime) -> Addressee:
        """What mail to `address` would find: one statement, two if its account's address
        is spelt otherwise (letters in another case) than `address`."""
        since = now - LIMIT_WINDOW
        bound = {"key": address.key, "recipient": address.ascii, "since": since}
        row = (await conn.execute(_ACCOUNT_AND_RECENT, bound)).one()
        account, recent = store.account_in(row), recent_in(row)
        if account is None:
            return Addressee(None, address, self._within_limits(*recent, now))
        known = parse_address(account.email)
        if known.ascii != address.ascii:
            recent = await recent_to(conn, known.ascii, since)
        return Addressee(account, known, self._within_limits(*recent, now))

    async def allowed(self, conn: AsyncConnection, recipient: str, now: datetime) -> bool:
        """Whether one more limited mail to this address keeps within the limits."""
        return self._within_limits(*await recent_to(conn, recipient, now - LIMIT_WINDOW), now)

    def _within_limits(self, count: int, latest: datetime | None, now: datetime) -> bool:
        """Whether one more mail after `count` in the window, the latest at `latest`, may go."""
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
        carried: Sequence[Write] = (),
    ) -> str | None:
        """Queue the mail in the caller's transaction, after the `carried` writes (one
        statement with them on PostgreSQL: db/carried.py); its id (None: suppressed)."""
        mail = NewMail(kind.name, recipient, locale, context or {}, account_id, expires_at)
        return await self.queue.enqueue(conn, mail, now, carried)
