"""The events an application hears of: their types and the JSON each one is.

The same JSON goes to a webhook (signed: regmail/webhooks.py) and to the event broker (a
RabbitMQ topic exchange, routing key = type; a Kafka topic, key = account id). `id` is the
same for every copy of one event, whichever destination and however often it arrives.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class EventType(StrEnum):
    REGISTERED = "account.registered"
    ACTIVATED = "account.activated"
    PASSWORD_CHANGED = "account.password_changed"  # noqa: S105 - an event's name
    EMAIL_CHANGED = "account.email_changed"
    DELETED = "account.deleted"
    MAIL_DEAD = "mail.dead"


class Event(BaseModel):
    """The JSON delivered: the Standard Webhooks payload shape."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: EventType
    timestamp: str  # ISO 8601, UTC
    data: dict[str, Any]
