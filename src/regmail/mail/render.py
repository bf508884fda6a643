"""Turning a mail into the bytes of an RFC 5322 message (text + HTML), from its kind's
templates.

Each kind's templates come from its own loader, behind REGMAIL_TEMPLATES_DIR when that is
set: a deployment overrides any one file (`activation.en.subject`, say) and keeps the rest.
Every template is loaded when the renderer is built, so a missing one stops a worker at
start instead of failing mails.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    select_autoescape,
)

from regmail.mail.mime import alternative, encode_header_text, refuse_line_breaks
from regmail.mails.kinds import TEMPLATE_PARTS, Kind, Kinds, Site
from regmail.settings import Settings


@dataclass(frozen=True)
class MailToRender:
    id: str
    kind: str
    recipient: str
    locale: str
    payload: Mapping[str, Any]  # the kind's context, opened
    expires_at: datetime | None


@dataclass(frozen=True)
class _Parts:
    subject: Template
    text: Template
    html: Template


@dataclass(frozen=True)
class RenderedMail:
    sender: str  # envelope MAIL FROM
    recipient: str  # envelope RCPT TO
    message_id: str
    subject: str
    text: str
    html: str
    data: bytes  # the whole message, CRLF line ends, ready for DATA


class Renderer:
    def __init__(
        self, kinds: Kinds, mail_from: str, site: Site, templates_dir: Path | None = None
    ) -> None:
        display_name, self._sender = parseaddr(mail_from)
        if "@" not in self._sender:
            raise ValueError(f"REGMAIL_MAIL_FROM is not an address: {mail_from!r}")
        self._domain = self._sender.rpartition("@")[2]
        self._from = formataddr((display_name, self._sender), charset="utf-8")
        self._site = site
        self.kinds = kinds
        override = FileSystemLoader(templates_dir) if templates_dir is not None else None
        self._templates: dict[tuple[str, str], _Parts] = {}
        for name, kind in kinds.items():
            if kind.templates is None:  # an event kind: not rendered
                continue
            environment = _environment(kind, kind.templates, override)
            for locale in kind.locales:
                subject, text, html = (
                    _template(environment, kind.template(locale, part))
                    for part in ("subject", "txt", "html")
                )
                self._templates[name, locale] = _Parts(subject, text, html)

    @classmethod
    def from_settings(cls, kinds: Kinds, settings: Settings) -> Renderer:
        site = Site(
            settings.public_url,
            settings.product_name or product_name_of(settings.mail_from),
            settings.support_email,
            settings.link_base_url,
        )
        return cls(kinds, settings.mail_from, site, settings.templates_dir)

    def message_id(self, mail_id: str) -> str:
        """Derived from the mail's id alone, so a re-sent copy carries the same Message-ID."""
        return f"<{mail_id}@{self._domain}>"

    def render(self, mail: MailToRender) -> RenderedMail:
        """KeyError for a kind this renderer does not know; the template's own error when
        the context does not fit it."""
        kind = self.kinds[mail.kind]
        locale = mail.locale if mail.locale in kind.locales else kind.locales[0]
        templates = self._templates[mail.kind, locale]
        context = self._context(kind, mail, locale)
        context["subject"] = templates.subject.render(context).strip()
        text = templates.text.render(context)
        html = templates.html.render(context)
        refuse_line_breaks(mail.recipient)
        headers = [
            ("From", self._from),
            ("To", mail.recipient),
            ("Subject", _encoded_subject(context["subject"])),
            ("Date", _date_now(int(time.time()))),
            ("Message-ID", self.message_id(mail.id)),
            ("Auto-Submitted", "auto-generated"),
        ]
        return RenderedMail(
            sender=self._sender,
            recipient=mail.recipient,
            message_id=self.message_id(mail.id),
            subject=context["subject"],
            text=text,
            html=html,
            data=alternative(headers, text, html),
        )

    def _context(self, kind: Kind, mail: MailToRender, locale: str) -> dict[str, Any]:
        """The kind's context, what the kind adds to it, then what every template has."""
        model = kind.context.model_validate(mail.payload)
        extra = kind.variables(model, self._site, locale) if kind.variables else {}
        expires = mail.expires_at
        return {
            **model.model_dump(),
            **extra,
            "lang": locale,
            "recipient": mail.recipient,
            "expires": expires.strftime("%Y-%m-%d %H:%M") if expires else "",
            "product_name": self._site.product_name,
            "support_email": self._site.support_email,
            "public_url": self._site.public_url,
        }


def product_name_of(mail_from: str) -> str:
    """The display name of the From address, else its domain."""
    display_name, address = parseaddr(mail_from)
    return display_name or address.rpartition("@")[2]


@lru_cache(maxsize=2)
def _date_now(second: int) -> str:
    """The Date header, local time, made once a second (a worker sends thousands)."""
    return format_datetime(datetime.fromtimestamp(second).astimezone())


@lru_cache(maxsize=1024)
def _encoded_subject(subject: str) -> str:
    return encode_header_text("Subject", subject)


def _environment(kind: Kind, templates: BaseLoader, override: BaseLoader | None) -> Environment:
    loaders = [override, templates] if override is not None else [templates]
    environment = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,  # templates are read once, at start: no stat() per mail
    )
    for locale in kind.locales:
        for part in TEMPLATE_PARTS:
            _load(environment, kind, kind.template(locale, part))
    return environment


def _template(environment: Environment, name: str) -> Template:
    """A loaded template, its globals made one dict: a render copies them into its context,
    and copying the ChainMap Jinja2 keeps (the template's over the environment's) was a
    quarter of a render (bench/README.md). Nothing adds globals once templates are loaded."""
    template = environment.get_template(name)
    template.globals = dict(template.globals)
    return template


def _load(environment: Environment, kind: Kind, name: str) -> None:
    """Compile `name` and every template it extends or includes, or say which fails."""
    try:
        source, _, _ = environment.loader.get_source(environment, name)  # type: ignore[union-attr]
        referenced = meta.find_referenced_templates(environment.parse(source))
        environment.get_template(name)
    except TemplateNotFound:
        raise ValueError(f"kind {kind.name}: template {name} not found") from None
    except TemplateSyntaxError as error:
        where = f"{error.name or name} line {error.lineno}"
        raise ValueError(f"kind {kind.name}: {where}: {error.message}") from None
    for other in referenced:
        if other is not None:
            _load(environment, kind, other)
