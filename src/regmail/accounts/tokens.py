"""Single-use links mailed to an account: 256 random bits each, only their SHA-256 stored.

One table for every purpose (activation, password reset, address change). A token is used
by one guarded UPDATE (`used_at IS NULL` and not expired), so of two requests presenting
it at once exactly one succeeds. Reading a token (to show a page) writes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.db.carried import Write, bound, insert_bound
from regmail.db.tables import account_tokens

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything far off that is not one of ours.
MAX_TOKEN_LENGTH = 64


class Purpose(StrEnum):
    ACTIVATION = "activation"
    RESET = "reset"
    EMAIL_CHANGE = "email_change"


class TokenError(Exception):
    """A token that does nothing; `code` says why: invalid, used or expired."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Token:
    hash: str
    account_id: str
    purpose: Purpose
    password_hash: str | None
    new_email: str | None
    expires_at: datetime
    used_at: datetime | None

    def state(self, now: datetime) -> str:
        """live, used or expired."""
        if self.used_at is not None:
            return "used"
        return "expired" if self.expires_at <= now else "live"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Lookup key for a token. The database compares hashes, never the secret itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_NEW = "token"  # the prefix of a new token's bound values (db/carried.py)
_INSERT = insert_bound(
    account_tokens,
    _NEW,
    (
        "token_hash",
        "account_id",
        "purpose",
        "password_hash",
        "new_email",
        "created_at",
        "expires_at",
    ),
)  # built once: store.py


def issued(
    account_id: str,
    purpose: Purpose,
    now: datetime,
    ttl_seconds: float,
    *,
    password_hash: str | None = None,
    new_email: str | None = None,
) -> tuple[str, datetime, Write]:
    """A new token, when it expires, and the INSERT of its hash for a later statement to
    carry (db/carried.py)."""
    token = new_token()
    expires_at = now + timedelta(seconds=ttl_seconds)
    row = {
        "token_hash": token_hash(token),
        "account_id": account_id,
        "purpose": purpose,
        "password_hash": password_hash,
        "new_email": new_email,
        "created_at": now,
        "expires_at": expires_at,
    }
    return token, expires_at, Write(_INSERT, bound(_NEW, row))


async def find(conn: AsyncConnection, token: str, purpose: Purpose) -> Token:
    """The token of that purpose, used or not; TokenError("invalid") if there is none."""
    query = select(account_tokens).where(
        account_tokens.c.token_hash == token_hash(token), account_tokens.c.purpose == purpose
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise TokenError("invalid")
    return _token(row)


async def live(conn: AsyncConnection, token: str, purpose: Purpose, now: datetime) -> Token:
    """The token if it can still be used; TokenError saying why not."""
    found = await find(conn, token, purpose)
    state = found.state(now)
    if state != "live":
        raise TokenError(state)
    return found


async def use(conn: AsyncConnection, found: Token, now: datetime) -> None:
    """Spend the token; TokenError("used") if another request spent it first."""
    spent = await conn.execute(
        update(account_tokens)
        .where(
            account_tokens.c.token_hash == found.hash,
            account_tokens.c.used_at.is_(None),
            account_tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise TokenError("used")


async def retire(
    conn: AsyncConnection, account_id: str, purposes: Collection[Purpose], now: datetime
) -> None:
    """Every still unused token of these purposes stops working."""
    await conn.execute(
        update(account_tokens)
        .where(
            account_tokens.c.account_id == account_id,
            account_tokens.c.purpose.in_(purposes),
            account_tokens.c.used_at.is_(None),
        )
        .values(used_at=now)
    )


async def live_activations(
    conn: AsyncConnection, account_id: str, now: datetime, limit: int
) -> list[Token]:
    """The account's activation tokens that still work, newest first."""
    query = (
        select(account_tokens)
        .where(
            account_tokens.c.account_id == account_id,
            account_tokens.c.purpose == Purpose.ACTIVATION,
            account_tokens.c.used_at.is_(None),
            account_tokens.c.expires_at > now,
        )
        .order_by(account_tokens.c.created_at.desc())
        .limit(limit)
    )
    return [_token(row) for row in await conn.execute(query)]


async def delete_for(conn: AsyncConnection, account_ids: Collection[str]) -> None:
    await conn.execute(delete(account_tokens).where(account_tokens.c.account_id.in_(account_ids)))


def _token(row: Row[Any]) -> Token:
    r = row._mapping
    return Token(
        r["token_hash"],
        r["account_id"],
        Purpose(r["purpose"]),
        r["password_hash"],
        r["new_email"],
        r["expires_at"],
        r["used_at"],
    )
