"""Register, resend and activate: the domain, over one database transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts.addresses import Address, parse_address
from regmail.accounts.passwords import PasswordHashing
from regmail.accounts.tokens import new_token, token_hash
from regmail.clock import utcnow
from regmail.db.tables import accounts, activation_tokens, mails
from regmail.mail.sealing import Sealer
from regmail.outbox.enqueue import NewMail, enqueue_mail
from regmail.settings import Settings
from regmail.suppressions import is_suppressed

log = structlog.get_logger(__name__)


class ActivationError(Exception):
    """A token that does not activate anything; `code` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # invalid | used | expired


@dataclass(frozen=True)
class Activated:
    email: str


@dataclass(frozen=True)
class RenewedPayload:
    payload: dict[str, Any]  # sealed
    expires_at: datetime


class AccountService:
    def __init__(
        self,
        engine: AsyncEngine,
        hashing: PasswordHashing,
        settings: Settings,
        sealer: Sealer,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._sealer = sealer
        self._hashing = hashing
        self._settings = settings
        self._on_enqueued = on_enqueued  # wakes an in-process worker; the poll is the fallback

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
        self._queued(mail_id)

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
            suppressed = await is_suppressed(conn, address.ascii)
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
            if suppressed:  # the account exists; its mail would only bounce again
                return None
            return await self._send_activation(conn, account_id, address, locale, now)
        # Known address: mail the account's own address, as it signed up with it.
        known = parse_address(row.email)
        if not await self._may_mail(conn, known.ascii, now):
            return None
        if row.status == "pending":
            return await self._send_activation(conn, row.id, known, row.locale, now)
        mail = NewMail("already_registered", known.ascii, row.locale, {}, row.id)
        return await enqueue_mail(conn, mail, now, self._sealer)

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
        self._queued(mail_id)

    def _queued(self, mail_id: str | None) -> None:
        """After the commit: log the mail's id (the key to its whole life in the logs, with
        this request's id beside it) and wake an in-process worker."""
        if mail_id is not None:
            log.info("mail_queued", mail_id=mail_id)
            self._on_enqueued()

    async def _send_activation(
        self, conn: AsyncConnection, account_id: str, address: Address, locale: str, now: datetime
    ) -> str:
        token, expires_at = await self._issue_token(conn, account_id, now)
        mail = NewMail(
            "activation", address.ascii, locale, {"token": token}, account_id, expires_at
        )
        return await enqueue_mail(conn, mail, now, self._sealer)

    async def renew_activation(
        self, conn: AsyncConnection, mail_id: str, account_id: str, now: datetime
    ) -> RenewedPayload | None:
        """A fresh token for an activation mail being replayed (its old payload is scrubbed
        once dead, or its link may have expired), sealed for `mail_id`. None when the
        account is no longer pending: the mail has nothing left to do."""
        pending = await conn.scalar(
            select(func.count()).where(accounts.c.id == account_id, accounts.c.status == "pending")
        )
        if not pending:
            return None
        token, expires_at = await self._issue_token(conn, account_id, now)
        return RenewedPayload(self._sealer.seal(mail_id, {"token": token}), expires_at)

    async def _issue_token(
        self, conn: AsyncConnection, account_id: str, now: datetime
    ) -> tuple[str, datetime]:
        """A new activation token (stored only as its hash) and when it expires."""
        token = new_token()
        expires_at = now + timedelta(seconds=self._settings.token_ttl_seconds)
        await conn.execute(
            activation_tokens.insert().values(
                token_hash=token_hash(token),
                account_id=account_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return token, expires_at

    async def _may_mail(self, conn: AsyncConnection, recipient: str, now: datetime) -> bool:
        """Whether one more mail to this address keeps within the per-address limits, and
        the address is not suppressed."""
        if await is_suppressed(conn, recipient):
            return False
        hour_ago = now - timedelta(hours=1)
        count, latest = (
            await conn.execute(
                select(func.count(), func.max(mails.c.created_at)).where(
                    mails.c.recipient == recipient, mails.c.created_at > hour_ago
                )
            )
        ).one()
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
