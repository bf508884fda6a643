"""Password reset: a link to the account's address sets a new password.

Asked for by address (the answer is the same for every address: accounts/requests.py).
An active or pending account gets a reset mail; a pending one too, because completing a
reset proves the inbox: it activates the account with the new password, which is also how
an address someone else signed up with first is taken back. The newest reset link makes
older ones stop working; completing one stops every reset, activation and address-change
link of the account and clears its failed sign-ins; a notice tells the address.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts import store, tokens
from regmail.accounts.addresses import parse_address
from regmail.accounts.kinds import PASSWORD_CHANGED, PASSWORD_RESET
from regmail.accounts.links import live_link
from regmail.accounts.mailing import AccountMail
from regmail.accounts.passwords import PasswordHashing, check_new_password
from regmail.accounts.requests import AddressRequest
from regmail.accounts.status import AccountStatus
from regmail.accounts.tokens import Purpose
from regmail.clock import utcnow
from regmail.db.engine import readonly
from regmail.event_types import EventType
from regmail.settings import Settings


@dataclass(frozen=True)
class PasswordSet:
    account_id: str
    email: str
    activated: bool  # the account was pending, and this made it active


class PasswordResets:
    def __init__(
        self, engine: AsyncEngine, hashing: PasswordHashing, settings: Settings, mail: AccountMail
    ) -> None:
        self._engine = engine
        self._reads = readonly(engine)  # look-ups take no write lock
        self._hashing = hashing
        self._settings = settings
        self._mail = mail

    async def reset_in(self, conn: AsyncConnection, request: AddressRequest) -> str | None:
        """The reset mail, if the address has an account (runs after the answer)."""
        now = utcnow()
        addressee = await self._mail.addressee(conn, request.address, now)
        account, known = addressee.account, addressee.address
        if account is None or not addressee.allowed:
            return None
        await tokens.retire(conn, account.id, {Purpose.RESET}, now)
        ttl = self._settings.password_reset_ttl_seconds
        token, expires_at, issued = tokens.issued(account.id, Purpose.RESET, now, ttl)
        return await self._mail.send(
            conn,
            PASSWORD_RESET,
            known.ascii,
            request.locale,
            now,
            account_id=account.id,
            context={"token": token},
            expires_at=expires_at,
            carried=(issued,),
        )

    async def complete(self, token: str, password: str) -> PasswordSet:
        """TokenError or PasswordRefused, else the password is set."""
        now = utcnow()
        async with self._reads.connect() as conn:
            found, account = await live_link(conn, token, Purpose.RESET, now)
        checked = check_new_password(password, self._settings.password_min_length, account.email)
        password_hash = await self._hashing.hash(checked)
        pending = account.status == AccountStatus.PENDING
        async with self._engine.begin() as conn:
            await tokens.use(conn, found, now)
            await store.set_password(conn, account.id, password_hash, now, activate=pending)
            every = {Purpose.RESET, Purpose.ACTIVATION, Purpose.EMAIL_CHANGE}
            await tokens.retire(conn, account.id, every, now)
            known = parse_address(account.email)
            notice = await self._mail.send(
                conn, PASSWORD_CHANGED, known.ascii, account.locale, now, account_id=account.id
            )
            events = []
            if pending:
                events += await self._mail.event(conn, EventType.ACTIVATED, account, now)
            events += await self._mail.event(conn, EventType.PASSWORD_CHANGED, account, now)
        self._mail.queue.committed(notice, *events)
        return PasswordSet(account.id, account.email, activated=pending)
