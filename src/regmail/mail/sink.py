"""The built-in SMTP sink of `regmail dev`, and the mailbox it fills."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import TYPE_CHECKING, Any

from regmail.extras import load

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session

from regmail.clock import utcnow

LINK = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class ReceivedMail:
    id: int
    message_id: str
    mail_from: str
    to: list[str]
    subject: str
    text: str
    html: str
    links: list[str]
    received_at: datetime = field(default_factory=utcnow)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data


class Mailbox:
    """The last `capacity` mails the sink received, newest first, in memory."""

    def __init__(self, capacity: int = 1000) -> None:
        self._mails: deque[ReceivedMail] = deque(maxlen=capacity)
        self._next_id = 1
        self.changed = asyncio.Condition()

    def all(self) -> list[ReceivedMail]:
        return list(reversed(self._mails))

    def get(self, mail_id: int) -> ReceivedMail | None:
        return next((m for m in self._mails if m.id == mail_id), None)

    async def add(self, envelope_from: str, rcpt_tos: list[str], data: bytes) -> ReceivedMail:
        parsed = message_from_bytes(data, policy=default)
        assert isinstance(parsed, EmailMessage)
        text = _part(parsed, "plain")
        html = _part(parsed, "html")
        mail = ReceivedMail(
            id=self._next_id,
            message_id=str(parsed.get("Message-ID", "")),
            mail_from=envelope_from,
            to=rcpt_tos,
            subject=str(parsed.get("Subject", "")),
            text=text,
            html=html,
            links=list(dict.fromkeys(LINK.findall(text or html))),
        )
        self._next_id += 1
        self._mails.append(mail)
        async with self.changed:
            self.changed.notify_all()
        return mail


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return str(body.get_content()).replace("\r\n", "\n") if body is not None else ""


class SinkHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        await self._mailbox.add(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 OK: queued in the dev mailbox"


async def start_sink(mailbox: Mailbox, host: str, port: int) -> asyncio.Server:
    """Serve SMTP on the running loop (no thread), filling `mailbox`."""
    smtp = load("aiosmtpd.smtp", "server")
    loop = asyncio.get_running_loop()
    handler = SinkHandler(mailbox)
    return await loop.create_server(
        lambda: smtp.SMTP(
            handler, enable_SMTPUTF8=True, decode_data=False, hostname="regmail-dev-sink"
        ),
        host=host,
        port=port,
    )
