"""Events: what an application hears about account changes and dead mail.

An event is written to the outbox in the transaction of the change it reports, as one
message per destination: each webhook endpoint that wants its type (`webhook:<name>`) and
the event broker when it is on (`broker`). From there it travels like a mail (the broker
seam, leases, retries, dead letters, replay, metrics), delivered as JSON instead of over
SMTP, at least once, and in order per account and destination (delivery/worker.py holds
one back while an earlier one to the same place is unfinished). Every destination gets the
same event id, which a receiver uses to drop a copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.event_types import Event, EventType
from regmail.mails.kinds import Channel, Kind
from regmail.mails.queue import MailQueue, NewMail
from regmail.settings import Settings

EVENT_BROKER = "broker"
WEBHOOK = "webhook:"


KINDS = tuple(
    Kind(event_type.value, context=Event, locales=("en",), channel=Channel.EVENT)
    for event_type in EventType
)


@dataclass(frozen=True)
class Endpoint:
    """A webhook receiver: where, with which secret, and which event types (None: all)."""

    name: str
    url: str
    secret: str  # whsec_<base64 key>
    types: frozenset[str] | None = None

    @property
    def destination(self) -> str:
        return f"{WEBHOOK}{self.name}"


def endpoints_of(settings: Settings) -> list[Endpoint]:
    """REGMAIL_WEBHOOK_URL (+ _SECRET) as the endpoint `default`, then REGMAIL_WEBHOOKS."""
    found: list[Endpoint] = []
    if settings.webhook_url and settings.webhook_secret:
        secret = settings.webhook_secret.get_secret_value()
        found.append(Endpoint("default", settings.webhook_url, secret))
    for hook in settings.webhooks:
        types = frozenset(hook.events) if hook.events else None
        found.append(Endpoint(hook.name, hook.url, hook.secret.get_secret_value(), types))
    return found


@dataclass(frozen=True)
class Destination:
    name: str
    types: frozenset[str] | None  # None: every type

    def wants(self, event_type: EventType) -> bool:
        return self.types is None or event_type in self.types


def destinations_of(settings: Settings) -> list[Destination]:
    found = [Destination(e.destination, e.types) for e in endpoints_of(settings)]
    if settings.events_to_broker:
        found.append(Destination(EVENT_BROKER, None))
    return found


class Events:
    def __init__(self, queue: MailQueue, destinations: Sequence[Destination]) -> None:
        self._queue = queue
        self._destinations = destinations
        self._last = datetime.min.replace(tzinfo=UTC)

    def wanted(self, event_type: EventType) -> bool:
        """Whether any destination wants events of this type (emit would write)."""
        return any(destination.wants(event_type) for destination in self._destinations)

    async def emit(
        self,
        conn: AsyncConnection,
        event_type: EventType,
        account_id: str | None,
        data: Mapping[str, Any],
        now: datetime,
    ) -> list[str]:
        """Queue the event for every destination that wants it, in the caller's
        transaction; the ids of the messages (call MailQueue.committed after the commit)."""
        # Strictly later than the last one: two events of one change (activated, then
        # password changed) keep their order, which delivery follows per account.
        now = self._last = max(now, self._last + timedelta(microseconds=1))
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": event_type,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": dict(data),
        }
        queued = []
        for destination in self._destinations:
            if destination.wants(event_type):
                message = NewMail(event_type, destination.name, "en", event, account_id)
                mail_id = await self._queue.enqueue(conn, message, now)
                assert mail_id is not None  # events are never suppressed
                queued.append(mail_id)
        return queued
