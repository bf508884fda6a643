"""Kinds of message: what a message of each kind needs, how it reads, how it is retried.

A mail kind (channel `mail`) is a name, its templates (`<kind>.<locale>.subject`, `.txt`
and `.html` for each of its locales), the context it needs (a pydantic model, checked when
the mail is queued), and optionally its own retry policy, extra template variables (a link
built from a token, say) and what a replay renews. regmail's own kinds
(regmail.accounts.kinds) are found the same way as an application's: a sequence of `Kind`
named by `module:NAME`. An event kind (channel `event`, mails/events.py) has no templates:
it is delivered as JSON to a webhook endpoint or the event broker.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from jinja2 import BaseLoader
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.mails.retry import RetryPolicy
from regmail.settings import Settings

LOCALES = ("en", "zh-CN")
TEMPLATE_PARTS = ("subject", "txt", "html")
BUILTIN_KINDS = ("regmail.accounts.kinds:KINDS", "regmail.mails.events:KINDS")


class Channel(StrEnum):
    MAIL = "mail"  # to an address, over SMTP
    EVENT = "event"  # to a webhook endpoint or the event broker, as JSON


class InvalidMail(ValueError):
    """A mail that cannot be queued; `field` names what is wrong (kind, locale, context.x)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotReplayable(Exception):
    """A mail an operator may not replay; the message says why."""


class NoContext(BaseModel):
    """The context of a kind that needs none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Site:
    """What every template may use about the deployment."""

    public_url: str
    product_name: str
    support_email: str | None = None
    link_base: str | None = None  # headless: the application's frontend serves the links

    def link(self, path: str, **query: str) -> str:
        """An absolute link for a mail, e.g. site.link("/activate", token=t): to regmail's
        page, or to the application's frontend in headless mode."""
        base = self.link_base or self.public_url
        return f"{base.rstrip('/')}{path}?{urlencode(query)}"


@dataclass(frozen=True)
class Replay:
    """What a kind's `renew` hears when an operator replays one of its mails."""

    mail_id: str
    account_id: str | None
    now: datetime
    settings: Settings


@dataclass(frozen=True)
class Renewal:
    """A replayed mail's fresh context (sealed before it is stored) and expiry."""

    context: Mapping[str, Any]
    expires_at: datetime | None


# (connection of the replay's transaction, the replay) → the renewal; raise NotReplayable
# when the mail has nothing left to do.
Renew = Callable[[AsyncConnection, Replay], Awaitable[Renewal]]
# (the mail's validated context, the site, the locale) → more template variables.
Variables = Callable[[Any, Site, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Kind:
    name: str
    templates: BaseLoader | None = None  # a mail kind's; an event kind has none
    context: type[BaseModel] = NoContext
    locales: tuple[str, ...] = LOCALES
    variables: Variables | None = None
    retry: RetryPolicy | None = None  # None: the deployment's (REGMAIL_RETRY_*)
    renew: Renew | None = None  # None: a replay sends the mail as it was queued
    # The context holds a secret (a link's token): emptied once the mail is sent or dead,
    # so a replay needs `renew` to issue a new one.
    secret: bool = False
    channel: Channel = Channel.MAIL

    def template(self, locale: str, part: str) -> str:
        return f"{self.name}.{locale}.{part}"

    def validate(self, locale: str, context: Mapping[str, Any]) -> dict[str, Any]:
        """The context as it will be stored (JSON types), or InvalidMail naming the field."""
        if locale not in self.locales:
            known = ", ".join(self.locales)
            raise InvalidMail("locale", f"{locale!r}: kind {self.name} has {known}")
        try:
            model = self.context.model_validate(context)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidMail(f"context.{where}", first["msg"]) from None
        return model.model_dump(mode="json")


class Kinds(Mapping[str, Kind]):
    """The kinds a process knows, by name."""

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self._kinds: dict[str, Kind] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"two kinds are named {kind.name!r}")
            if kind.channel == Channel.MAIL and kind.templates is None:
                raise ValueError(f"mail kind {kind.name!r} has no templates")
            self._kinds[kind.name] = kind

    @classmethod
    def configured(cls, settings: Settings) -> Kinds:
        """regmail's own kinds and those REGMAIL_KINDS names."""
        return cls.load(*BUILTIN_KINDS, *settings.kinds)

    @classmethod
    def load(cls, *specs: str) -> Kinds:
        """The kinds named by `module:NAME` specs (each a sequence of Kind)."""
        return cls(kind for spec in specs for kind in load_kinds(spec))

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def require(self, name: str) -> Kind:
        kind = self._kinds.get(name)
        if kind is None:
            raise InvalidMail("kind", f"{name!r} is not a registered kind ({', '.join(self)})")
        return kind


def load_kinds(spec: str) -> Sequence[Kind]:
    """`package.module:NAME` → the sequence of Kind it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{spec!r}: kinds are named as package.module:NAME")
    found = getattr(importlib.import_module(module_name), attribute, None)
    if not isinstance(found, Sequence) or not all(isinstance(k, Kind) for k in found):
        raise ValueError(f"{spec!r} is not a sequence of regmail.mails.kinds.Kind")
    return found
