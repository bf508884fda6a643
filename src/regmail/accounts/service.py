"""Register, resend and activate: the domain, over one database transaction each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts.addresses import Address, parse_address
from regmail.accounts.kinds import ACTIVATION, ALREADY_REGISTERED
from regmail.accounts.passwords import PasswordHashing
from regmail.accounts.tokens import issue_activation_token, token_hash
from regmail.clock import utcnow
from regmail.db.tables import accounts, activation_tokens
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.views import recent_to
from regmail.settings import Settings


class ActivationError(Exception):
    """A token that does not activate anything; `code` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # invalid | used | expired


@dataclass(frozen=True)
class Activated:
    email: str


class AccountService:
    def __init__(
        self,
        engine: AsyncEngine,
        hashing: PasswordHashing,
        settings: Settings,
        queue: MailQueue,
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._hashing = hashing
        self._settings = settings

    async def register(self, address: Address, password: str, locale: str) -> None:
        # Hash before looking the address up, so known and unknown addresses cost the same.
        password_hash = await self._hashing.hash(password)
        now = utcnow()
        try:
            async with self._engine.begin() as conn:
                mail_id = await self._register_in(conn, address, password_hash, locale, now)
        except IntegrityError:
            # A concurrent sign-up for the same address won the insert: treat as known.
            async with self._engine.begin() as conn:
                mail_id = await self._register_in(conn, address, password_hash, locale, now)
        self._queue.committed(mail_id)

    async def _register_in(
        self,
        conn: AsyncConnection,
        address: Address,
        password_hash: str,
        locale: str,
        now: datetime,
    ) -> str | None:
        """The id of the mail queued for this sign-up, if any (limits may hold it back)."""
        row = (
            await conn.execute(
                select(accounts.c.id, accounts.c.email, accounts.c.status, accounts.c.locale).where(
                    accounts.c.email_key == address.key
                )
            )
        ).first()
        if row is None:
            account_id = str(uuid.uuid4())
            await conn.execute(
                accounts.insert().values(
                    id=account_id,
                    email=address.display,
                    email_key=address.key,
                    password_hash=password_hash,
                    status="pending",
                    locale=locale,
                    created_at=now,
                )
            )
            return await self._send_activation(conn, account_id, address, locale, now)
        # Known address: mail the account's own address, as it signed up with it.
        known = parse_address(row.email)
        if not await self._may_mail(conn, known.ascii, now):
            return None
        if row.status == "pending":
            return await self._send_activation(conn, row.id, known, row.locale, now)
        mail = NewMail(ALREADY_REGISTERED.name, known.ascii, row.locale, account_id=row.id)
        return await self._queue.enqueue(conn, mail, now)

    async def resend(self, address: Address) -> None:
        now = utcnow()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(accounts.c.id, accounts.c.email, accounts.c.locale).where(
                        accounts.c.email_key == address.key, accounts.c.status == "pending"
                    )
                )
            ).first()
            if row is None:
                return
            known = parse_address(row.email)
            if not await self._may_mail(conn, known.ascii, now):
                return
            mail_id = await self._send_activation(conn, row.id, known, row.locale, now)
        self._queue.committed(mail_id)

    async def _send_activation(
        self, conn: AsyncConnection, account_id: str, address: Address, locale: str, now: datetime
    ) -> str | None:
        ttl = self._settings.token_ttl_seconds
        token, expires_at = await issue_activation_token(conn, account_id, now, ttl)
        mail = NewMail(
            ACTIVATION.name, address.ascii, locale, {"token": token}, account_id, expires_at
        )
        return await self._queue.enqueue(conn, mail, now)

    async def _may_mail(self, conn: AsyncConnection, recipient: str, now: datetime) -> bool:
        """Whether one more mail to this address keeps within the per-address limits."""
        count, latest = await recent_to(conn, recipient, now - timedelta(hours=1))
        if count >= self._settings.mails_per_address_per_hour:
            return False
        cooldown = timedelta(seconds=self._settings.resend_cooldown_seconds)
        return latest is None or now - latest >= cooldown

    async def activate(self, token: str) -> Activated:
        now = utcnow()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(
                        activation_tokens.c.account_id,
                        activation_tokens.c.expires_at,
                        activation_tokens.c.used_at,
                        accounts.c.email,
                    )
                    .join(accounts, accounts.c.id == activation_tokens.c.account_id)
                    .where(activation_tokens.c.token_hash == token_hash(token))
                )
            ).first()
            if row is None:
                raise ActivationError("invalid")
            if row.used_at is not None:
                raise ActivationError("used")
            if row.expires_at <= now:
                raise ActivationError("expired")
            # The used_at IS NULL guard makes the token single-use under concurrency too.
            used = await conn.execute(
                activation_tokens.update()
                .where(
                    activation_tokens.c.token_hash == token_hash(token),
                    activation_tokens.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            if used.rowcount != 1:
                raise ActivationError("used")
            await conn.execute(
                accounts.update()
                .where(accounts.c.id == row.account_id, accounts.c.status == "pending")
                .values(status="active", activated_at=now)
            )
        return Activated(email=row.email)
