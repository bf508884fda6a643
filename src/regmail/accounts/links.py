"""A mailed link's token and the account it is for: what its page shows (read, never
written), and the look-up every step that uses a link starts with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts import store, tokens
from regmail.accounts.status import AccountStatus
from regmail.accounts.store import Account
from regmail.accounts.tokens import Purpose, Token, TokenError
from regmail.clock import utcnow
from regmail.db.engine import readonly


@dataclass(frozen=True)
class LinkState:
    """live, used, expired or invalid (an activation link: `active`, once its account is);
    the address it is about (for an address change, the new one) and the account's status."""

    state: str
    email: str | None = None
    account_status: AccountStatus | None = None


class Links:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = readonly(engine)  # look-ups take no write lock

    async def state(self, token: str, purpose: Purpose) -> LinkState:
        async with self._reads.connect() as conn:
            try:
                found = await tokens.find(conn, token, purpose)
            except TokenError:
                return LinkState("invalid")
            account = await store.by_id(conn, found.account_id)
        if account is None:
            return LinkState("invalid")
        state = found.state(utcnow())
        if purpose == Purpose.ACTIVATION and account.status == AccountStatus.ACTIVE:
            state = "active"  # through this link or another: nothing left to do
        email = found.new_email if purpose == Purpose.EMAIL_CHANGE else account.email
        return LinkState(state, email, account.status)


async def live_link(
    conn: AsyncConnection, token: str, purpose: Purpose, now: datetime
) -> tuple[Token, Account]:
    """The token, still usable, and its account; TokenError saying why not."""
    found = await tokens.live(conn, token, purpose, now)
    account = await store.by_id(conn, found.account_id)
    if account is None:
        raise TokenError("invalid")
    return found, account
