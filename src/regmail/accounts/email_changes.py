"""Changing an account's address: asked with the current address and password, made when
the link mailed to the new address is used.

The old address hears of the request at once and of the change when it happens. Whether
the new address already has an account is never said to the requester: the answer is the
same, the notice to the old address goes either way, and only a free address gets the
link. An address taken between request and confirmation fails the confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts import store, tokens
from regmail.accounts.addresses import Address, parse_address
from regmail.accounts.credentials import Credentials
from regmail.accounts.kinds import EMAIL_CHANGE, EMAIL_CHANGE_REQUESTED, EMAIL_CHANGED
from regmail.accounts.links import live_link
from regmail.accounts.mailing import AccountMail
from regmail.accounts.status import AccountStatus
from regmail.accounts.tokens import Purpose, TokenError
from regmail.clock import utcnow
from regmail.db.engine import readonly
from regmail.event_types import EventType
from regmail.settings import Settings


class AddressTaken(Exception):
    """The new address has an account by now."""


@dataclass(frozen=True)
class AddressChanged:
    account_id: str
    email: str
    old_email: str


class EmailChanges:
    def __init__(
        self,
        engine: AsyncEngine,
        credentials: Credentials,
        settings: Settings,
        mail: AccountMail,
    ) -> None:
        self._engine = engine
        self._reads = readonly(engine)  # look-ups take no write lock
        self._credentials = credentials
        self._settings = settings
        self._mail = mail

    async def request(
        self, address: Address, password: str, new_address: Address, client: str
    ) -> None:
        """CredentialsRefused unless `password` is the active account's."""
        verified = await self._credentials.verify(address, password, client)
        now = utcnow()
        queued: list[str | None] = []
        async with self._engine.begin() as conn:
            account = await store.by_id(conn, verified.account_id)
            assert account is not None
            old = parse_address(account.email)
            free = new_address.key != old.key and await store.by_key(conn, new_address.key) is None
            if free and await self._mail.allowed(conn, new_address.ascii, now):
                await tokens.retire(conn, account.id, {Purpose.EMAIL_CHANGE}, now)
                ttl = self._settings.token_ttl_seconds
                token, expires_at, issued = tokens.issued(
                    account.id, Purpose.EMAIL_CHANGE, now, ttl, new_email=new_address.display
                )
                context = {"token": token, "new_email": new_address.display}
                queued.append(
                    await self._mail.send(
                        conn,
                        EMAIL_CHANGE,
                        new_address.ascii,
                        account.locale,
                        now,
                        account_id=account.id,
                        context=context,
                        expires_at=expires_at,
                        carried=(issued,),
                    )
                )
            queued.append(
                await self._mail.send(
                    conn,
                    EMAIL_CHANGE_REQUESTED,
                    old.ascii,
                    account.locale,
                    now,
                    account_id=account.id,
                    context={"new_email": new_address.display},
                )
            )
        self._mail.queue.committed(*queued)

    async def complete(self, token: str) -> AddressChanged:
        """TokenError or AddressTaken, else the account has its new address."""
        now = utcnow()
        async with self._reads.connect() as conn:
            found, account = await live_link(conn, token, Purpose.EMAIL_CHANGE, now)
        if account.status != AccountStatus.ACTIVE or found.new_email is None:
            raise TokenError("invalid")
        new_address = parse_address(found.new_email)
        old = parse_address(account.email)
        try:
            async with self._engine.begin() as conn:
                await tokens.use(conn, found, now)
                await store.change_address(conn, account.id, new_address)
                await tokens.retire(conn, account.id, {Purpose.EMAIL_CHANGE}, now)
                notice = await self._mail.send(
                    conn,
                    EMAIL_CHANGED,
                    old.ascii,
                    account.locale,
                    now,
                    account_id=account.id,
                    context={"new_email": new_address.display},
                )
                changed = replace(account, email=new_address.display)
                events = await self._mail.event(
                    conn, EventType.EMAIL_CHANGED, changed, now, previous_email=account.email
                )
        except IntegrityError:
            raise AddressTaken from None
        self._mail.queue.committed(notice, *events)
        return AddressChanged(account.id, new_address.display, account.email)
