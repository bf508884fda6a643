"""Activation tokens: 256 random bits for the link, only their SHA-256 in the database."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.db.tables import accounts, activation_tokens

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything far off that is not one of ours.
MAX_TOKEN_LENGTH = 64


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Lookup key for a token. The database compares hashes, never the secret itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_activation_token(
    conn: AsyncConnection, account_id: str, now: datetime, ttl_seconds: int
) -> tuple[str, datetime]:
    """A new activation token (stored only as its hash) and when it expires."""
    token = new_token()
    expires_at = now + timedelta(seconds=ttl_seconds)
    await conn.execute(
        activation_tokens.insert().values(
            token_hash=token_hash(token),
            account_id=account_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return token, expires_at


async def renew_activation_token(
    conn: AsyncConnection, account_id: str | None, now: datetime, ttl_seconds: int
) -> tuple[str, datetime] | None:
    """A new activation token for a replayed mail; None when the account is no longer
    pending (the mail has nothing left to do)."""
    if account_id is None:
        return None
    pending = await conn.scalar(
        select(func.count()).where(accounts.c.id == account_id, accounts.c.status == "pending")
    )
    if not pending:
        return None
    return await issue_activation_token(conn, account_id, now, ttl_seconds)
