"""Turning a mail row into the bytes of an RFC 5322 message (text + HTML, en and zh-CN)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from regmail.mail.mime import alternative, encode_header_text, refuse_line_breaks

LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"

SUBJECTS: Mapping[tuple[str, str], str] = {
    ("activation", "en"): "Activate your account",
    ("activation", "zh-CN"): "激活您的账户",
    ("already_registered", "en"): "You already have an account",
    ("already_registered", "zh-CN"): "您已经有一个账户",
}


@dataclass(frozen=True)
class MailToRender:
    id: str
    kind: str
    recipient: str
    locale: str
    payload: Mapping[str, Any]
    expires_at: datetime | None


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
    def __init__(self, mail_from: str, public_url: str) -> None:
        self._env = Environment(
            loader=PackageLoader("regmail", "mail/templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        display_name, self._sender = parseaddr(mail_from)
        if "@" not in self._sender:
            raise ValueError(f"REGMAIL_MAIL_FROM is not an address: {mail_from!r}")
        self._domain = self._sender.rpartition("@")[2]
        self._from = formataddr((display_name, self._sender), charset="utf-8")
        self._subjects = {
            key: encode_header_text("Subject", value) for key, value in SUBJECTS.items()
        }
        self._public_url = public_url.rstrip("/")

    def message_id(self, mail_id: str) -> str:
        """Derived from the mail's id alone, so a re-sent copy carries the same Message-ID."""
        return f"<{mail_id}@{self._domain}>"

    def activation_link(self, token: str, locale: str) -> str:
        """The page the link opens speaks the language the mail was written in."""
        return f"{self._public_url}/activate?{urlencode({'token': token, 'lang': locale})}"

    def render(self, mail: MailToRender) -> RenderedMail:
        locale = mail.locale if mail.locale in LOCALES else DEFAULT_LOCALE
        context: dict[str, Any] = {
            "lang": locale,
            "recipient": mail.recipient,
            "subject": SUBJECTS[(mail.kind, locale)],
        }
        if mail.kind == "activation":
            context["link"] = self.activation_link(str(mail.payload["token"]), locale)
            expires = mail.expires_at
            context["expires"] = expires.strftime("%Y-%m-%d %H:%M") if expires else ""
        text = self._env.get_template(f"{mail.kind}.{locale}.txt").render(context)
        html = self._env.get_template(f"{mail.kind}.{locale}.html").render(context)
        refuse_line_breaks(mail.recipient)
        headers = [
            ("From", self._from),
            ("To", mail.recipient),
            ("Subject", self._subjects[(mail.kind, locale)]),
            ("Date", format_datetime(datetime.now().astimezone())),
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
