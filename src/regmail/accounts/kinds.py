"""The account's mails, registered as kinds exactly as an application registers its own
(`Kinds.load("regmail.accounts.kinds:KINDS", ...)`); their templates are beside this file."""

from __future__ import annotations

from jinja2 import PackageLoader
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.accounts import store, tokens
from regmail.accounts.status import AccountStatus
from regmail.accounts.tokens import MAX_TOKEN_LENGTH, Purpose
from regmail.mails.kinds import Kind, NotReplayable, Renewal, Replay, Site, Variables

TEMPLATES = PackageLoader("regmail", "accounts/templates")


class _Context(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkContext(_Context):
    """A mail whose link carries a token."""

    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


class AddressChangeLink(LinkContext):
    new_email: str = Field(max_length=320)


class AddressChangeNotice(_Context):
    new_email: str = Field(max_length=320)


def _link(path: str) -> Variables:
    """Template variable `link`: the page at `path` for the mail's token, in its language."""

    def variables(context: LinkContext, site: Site, locale: str) -> dict[str, str]:
        return {"link": site.link(path, token=context.token, lang=locale)}

    return variables


async def _renew_activation(conn: AsyncConnection, replay: Replay) -> Renewal:
    """A replayed activation mail carries a fresh link (bound, like a resend, to the
    account's latest sign-up); none once the account is active."""
    account = await store.by_id(conn, replay.account_id) if replay.account_id else None
    if account is None or account.status != AccountStatus.PENDING:
        raise NotReplayable("the account is no longer pending; it needs no activation")
    ttl = replay.settings.token_ttl_seconds
    token, expires_at, issued = tokens.issued(
        account.id, Purpose.ACTIVATION, replay.now, ttl, password_hash=account.password_hash
    )
    await issued.run(conn)
    return Renewal({"token": token}, expires_at)


async def _renew_reset(conn: AsyncConnection, replay: Replay) -> Renewal:
    """A replayed reset mail carries a fresh link, and the older ones stop working."""
    account = await store.by_id(conn, replay.account_id) if replay.account_id else None
    if account is None:
        raise NotReplayable("the account no longer exists")
    await tokens.retire(conn, account.id, {Purpose.RESET}, replay.now)
    ttl = replay.settings.password_reset_ttl_seconds
    token, expires_at, issued = tokens.issued(account.id, Purpose.RESET, replay.now, ttl)
    await issued.run(conn)
    return Renewal({"token": token}, expires_at)


ACTIVATION = Kind(
    "activation",
    TEMPLATES,
    LinkContext,
    variables=_link("/activate"),
    renew=_renew_activation,
    secret=True,
)
ALREADY_REGISTERED = Kind("already_registered", TEMPLATES)
PASSWORD_RESET = Kind(
    "password_reset",
    TEMPLATES,
    LinkContext,
    variables=_link("/reset"),
    renew=_renew_reset,
    secret=True,
)
PASSWORD_CHANGED = Kind("password_changed", TEMPLATES)
# To the new address: the link that makes the change. Not replayed: ask again.
EMAIL_CHANGE = Kind(
    "email_change",
    TEMPLATES,
    AddressChangeLink,
    variables=_link("/confirm-email"),
    secret=True,
)
EMAIL_CHANGE_REQUESTED = Kind("email_change_requested", TEMPLATES, AddressChangeNotice)
EMAIL_CHANGED = Kind("email_changed", TEMPLATES, AddressChangeNotice)

KINDS = (
    ACTIVATION,
    ALREADY_REGISTERED,
    PASSWORD_RESET,
    PASSWORD_CHANGED,
    EMAIL_CHANGE,
    EMAIL_CHANGE_REQUESTED,
    EMAIL_CHANGED,
)
