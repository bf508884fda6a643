"""The account's mails, registered as kinds exactly as an application registers its own
(`Kinds.load("regmail.accounts.kinds:KINDS", ...)`); their templates are beside this file."""

from __future__ import annotations

from jinja2 import PackageLoader
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.accounts.tokens import MAX_TOKEN_LENGTH, renew_activation_token
from regmail.mails.kinds import Kind, NotReplayable, Renewal, Replay, Site

TEMPLATES = PackageLoader("regmail", "accounts/templates")


class ActivationContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


def _activation_link(context: ActivationContext, site: Site, locale: str) -> dict[str, str]:
    """The page the link opens speaks the language the mail was written in."""
    return {"link": site.link("/activate", token=context.token, lang=locale)}


async def _renew_activation(conn: AsyncConnection, replay: Replay) -> Renewal:
    """A replayed activation mail carries a fresh link (its old token went with the
    scrubbed payload, or may have expired); none once the account is active."""
    ttl = replay.settings.token_ttl_seconds
    renewed = await renew_activation_token(conn, replay.account_id, replay.now, ttl)
    if renewed is None:
        raise NotReplayable("the account is no longer pending; it needs no activation")
    token, expires_at = renewed
    return Renewal({"token": token}, expires_at)


ACTIVATION = Kind(
    "activation",
    TEMPLATES,
    ActivationContext,
    variables=_activation_link,
    renew=_renew_activation,
)
ALREADY_REGISTERED = Kind("already_registered", TEMPLATES)

KINDS = (ACTIVATION, ALREADY_REGISTERED)
