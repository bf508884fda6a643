"""The states a mail and its outbox row can be in, and why a mail is given up.

These are stored in the database and shown to operators (admin API, CLI, metrics labels),
so their values are part of the interface: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class MailStatus(StrEnum):
    QUEUED = "queued"  # waiting for its first attempt (or replayed)
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"
    RETRYING = "retrying"  # an attempt failed; the next one is due at next_attempt_at
    DEAD = "dead"  # given up (dead_reason says why); an operator may replay it

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({MailStatus.SENT, MailStatus.DEAD})
PENDING = (MailStatus.QUEUED, MailStatus.SENDING, MailStatus.RETRYING)


class DeadReason(StrEnum):
    REJECTED = "rejected"  # the server answered 5xx
    MAX_ATTEMPTS = "max-attempts"
    MAX_AGE = "max-age"
    EXPIRED = "expired"  # the link inside has expired, or would have by the next attempt
    SECRET_KEY = "secret-key"  # noqa: S105 - a reason, not a key: sealed with a key unknown here
    RENDER_ERROR = "render-error"  # the template failed
    UNKNOWN_KIND = "unknown-kind"  # no kind of that name is registered in this worker
    UNKNOWN_MAIL = "unknown-mail"  # a message named a mail that does not exist
    DELIVERY_LIMIT = "delivery-limit"  # the broker handed it out too often (crashed workers)
    ACCOUNT_DELETED = "account-deleted"  # its account was deleted before it went out
    NO_DESTINATION = "no-destination"  # an event for a webhook endpoint no longer configured


class OutboxStatus(StrEnum):
    READY = "ready"  # to be claimed (with broker=db: delivered; otherwise: relayed)
    DEAD = "dead"  # parked with broker=db until its mail is replayed or purged
