"""The sign-in check a host application's backend asks: is this the account's password?

Every failure answers alike, in status, body and time: an unknown address is checked
against a hash nobody knows the password of, so it costs the same argon2id work as a
wrong password for a real account. Failures are throttled per address and client network
(accounts/throttle.py) and counted per account: after `MAX_CONSECUTIVE_FAILURES` in a row
(NIST SP 800-63B's bound), the account takes no password until it is reset, and only the
right password learns that (`locked`), so its owner is told what to do and a stranger
learns nothing. A hash made with older argon2 parameters is replaced on the next success.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts import store, throttle
from regmail.accounts.addresses import Address
from regmail.accounts.passwords import PasswordHashing, normalize
from regmail.accounts.status import AccountStatus
from regmail.accounts.store import Account
from regmail.clock import utcnow
from regmail.db.engine import readonly

MAX_CONSECUTIVE_FAILURES = 100


class CredentialsRefused(Exception):
    """`code`: invalid (any failure), not_activated (right password, pending account),
    locked (right password, too many failures: reset it) or throttled (`retry_after` s)."""

    def __init__(self, code: str, retry_after: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verified:
    account_id: str
    email: str
    status: AccountStatus


class Credentials:
    def __init__(self, engine: AsyncEngine, hashing: PasswordHashing) -> None:
        self._engine = engine
        self._reads = readonly(engine)  # look-ups take no write lock
        self._hashing = hashing

    async def check(self, address: Address, password: str, client: str) -> Account:
        """The account whose password this is (pending or not); CredentialsRefused if none."""
        now = utcnow()
        key = throttle.throttle_key(address.key, client)
        async with self._reads.connect() as conn:
            failures, blocked_until = await throttle.current(conn, key)
            account = await store.by_key(conn, address.key)
        if blocked_until is not None and blocked_until > now:
            raise CredentialsRefused("throttled", _seconds_until(blocked_until, now))
        matches = await self._hashing.verify(account.password_hash if account else None, password)
        if account is None or not matches:
            await self._failed(key, account, now)
            raise CredentialsRefused("invalid")
        if account.failed_sign_ins >= MAX_CONSECUTIVE_FAILURES:
            raise CredentialsRefused("locked")
        await self._succeeded(key, failures, account, password, now)
        return account

    async def verify(self, address: Address, password: str, client: str) -> Verified:
        """The sign-in check: an active account whose password this is."""
        account = await self.check(address, password, client)
        if account.status != AccountStatus.ACTIVE:
            raise CredentialsRefused("not_activated")
        return Verified(account.id, account.email, account.status)

    async def _failed(self, key: str, account: Account | None, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await throttle.record_failure(conn, key, now)
            if account is not None:
                await store.record_failed_sign_in(conn, account.id)

    async def _succeeded(
        self, key: str, failures: int, account: Account, password: str, now: datetime
    ) -> None:
        """Forget failures, and move the hash to today's parameters; writes only if needed."""
        rehash = self._hashing.needs_rehash(account.password_hash)
        if not (failures or account.failed_sign_ins or rehash):
            return
        new_hash = await self._hashing.hash(normalize(password)) if rehash else None
        async with self._engine.begin() as conn:
            await throttle.forget(conn, key)
            await store.clear_failed_sign_ins(conn, account.id)
            if new_hash is not None:
                await store.rehash(conn, account.id, account.password_hash, new_hash)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
