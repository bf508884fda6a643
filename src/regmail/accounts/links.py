"""What the page behind a mailed link shows: read from the token, never written."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts import store, tokens
from regmail.accounts.store import AccountStatus
from regmail.accounts.tokens import Purpose, TokenError
from regmail.clock import utcnow
from regmail.db.engine import readonly


@dataclass(frozen=True)
class LinkState:
    """live, used, expired or invalid; the address it is about (for an address change, the
    new one) and the account's status."""

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
            state = "used" if state == "live" else state  # activated through another link
        email = found.new_email if purpose == Purpose.EMAIL_CHANGE else account.email
        return LinkState(state, email, account.status)
