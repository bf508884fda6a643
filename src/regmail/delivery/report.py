"""What delivery says about each outcome: one log line (the mail's id on it) and its metrics.

`grep MAIL_ID` over the logs tells a mail's life; these are the worker's lines of it.
"""

from __future__ import annotations

import structlog

from regmail.mails.status import DeadReason, MailStatus
from regmail.metrics import DEAD, MAILS

log = structlog.get_logger("regmail.delivery")


def sent(mail_id: str, kind: str, attempts: int) -> None:
    MAILS.labels(MailStatus.SENT).inc()
    log.info("mail_sent", mail_id=mail_id, kind=kind, attempts=attempts)


def retrying(mail_id: str, attempts: int, reply: str) -> None:
    MAILS.labels(MailStatus.RETRYING).inc()
    log.info("mail_retry", mail_id=mail_id, attempts=attempts, reply=reply)


def dead(reason: DeadReason) -> None:
    MAILS.labels(MailStatus.DEAD).inc()
    DEAD.labels(reason).inc()


def rejected(mail_id: str, reply: str) -> None:
    log.warning("mail_rejected", mail_id=mail_id, reply=reply)


def gave_up(mail_id: str, reason: DeadReason, reply: str) -> None:
    log.warning("mail_gave_up", mail_id=mail_id, reason=reason, reply=reply)


def undeliverable(mail_id: str, reason: DeadReason, detail: str, traceback: bool = False) -> None:
    """A mail no retry can help: unknown, over its delivery limit, unsealable, unrenderable
    (`traceback`: called while handling the error, whose traceback is logged too)."""
    log.error(
        "mail_undeliverable", mail_id=mail_id, reason=reason, detail=detail, exc_info=traceback
    )


def suppressed(mail_id: str, reply: str) -> None:
    log.warning("address_suppressed", mail_id=mail_id, reply=reply)
