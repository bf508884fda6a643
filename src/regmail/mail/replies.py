"""What an SMTP failure means: retry, give up, pause the provider, suppress the address."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import aiosmtplib


class ProviderUnavailable(Exception):
    """No connection to send on: refused, timed out, TLS or AUTH failed. The provider's
    trouble (or our configuration's), not this mail's."""


@dataclass(frozen=True)
class SendFailure:
    """Why a send (SMTP, or an event's delivery) failed. `permanent` failures are not
    retried; `provider` failures pause that destination as a whole (see ProviderGate);
    `retry_after` is the receiver's own wish (seconds), when it said one."""

    kind: Literal["transient", "permanent", "provider"]
    reply: str
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        return self.kind == "permanent"


class SendFailed(Exception):
    """A send that failed, already classified."""

    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.reply)
        self.failure = failure


def classify(error: BaseException) -> SendFailure:
    """5xx replies are permanent; 4xx replies, timeouts and broken connections are not."""
    if isinstance(error, ProviderUnavailable):
        return SendFailure("provider", str(error))
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPResponseException):
        reply = f"{error.code} {error.message}".strip()
        return SendFailure("permanent" if 500 <= error.code < 600 else "transient", reply)
    if isinstance(error, TimeoutError):
        return SendFailure("transient", f"timeout: {error}")
    if isinstance(error, (ConnectionError, OSError, aiosmtplib.SMTPException)):
        return SendFailure("transient", f"{type(error).__name__}: {error}")
    raise error


# RFC 3463: 5.1.x is a bad destination mailbox or address. Without an enhanced code, a
# 550 that says the user is unknown means the same.
_ENHANCED = re.compile(r"^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})")
_UNKNOWN_USER = re.compile(r"user unknown|no such user|does not exist|unknown recipient", re.I)


def is_hard_bounce(reply: str) -> bool:
    """Whether an SMTP reply says the address itself does not exist."""
    enhanced = _ENHANCED.match(reply)
    if enhanced:
        return enhanced.group(1).startswith("5.1.")
    return reply.startswith(("550", "551", "553")) and bool(_UNKNOWN_USER.search(reply))
