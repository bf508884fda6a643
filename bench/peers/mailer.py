"""What the queue peers (Celery, Dramatiq) do per message, the same for both.

The same message as regmail (its renderer), sent over one smtplib connection per thread
that is kept open and reused, as a careful Celery or Dramatiq user would write it: a
connection per mail would be a straw man. A failed connection is dropped and the error
raised, so the framework's own retry takes over.
"""

from __future__ import annotations

import os
import smtplib
import threading
from datetime import UTC, datetime, timedelta

from regmail.mail.render import MailToRender, Renderer
from regmail.mails.kinds import BUILTIN_KINDS, Kinds, Site

SMTP_PORT = int(os.environ.get("PEER_SMTP_PORT", "25"))
QUEUE = os.environ.get("PEER_QUEUE", "peer-mail")
BROKER_URL = os.environ.get("PEER_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
RENDERER = Renderer(
    Kinds.load(*BUILTIN_KINDS),
    "regmail <no-reply@regmail.localhost>",
    Site("http://127.0.0.1:8000", "regmail"),
)
# Transient: retried by the framework. 5xx replies are not in here: they are final.
TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError)

_local = threading.local()


def send_activation(mail_id: str, recipient: str, token: str, locale: str) -> None:
    expires = datetime.now(UTC) + timedelta(hours=24)
    mail = MailToRender(mail_id, "activation", recipient, locale, {"token": token}, expires)
    rendered = RENDERER.render(mail)
    smtp = _connection()
    try:
        smtp.sendmail(rendered.sender, [rendered.recipient], rendered.data)
    except BaseException:
        _local.smtp = None
        smtp.close()
        raise


def _connection() -> smtplib.SMTP:
    smtp: smtplib.SMTP | None = getattr(_local, "smtp", None)
    if smtp is None:
        smtp = smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30)
        _local.smtp = smtp
    return smtp
