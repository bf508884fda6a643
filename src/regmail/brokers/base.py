"""The broker protocol: the seam between delivery logic and whatever carries the work.

A broker carries `Message`s (a mail id and a key that orders per recipient). A consumer's
handler answers each with an `Outcome`; how a broker implements "retry at" or "dead"
(lease rows, TTL queues, retry topics) stays inside that broker's own module, and what
every broker does alike (the message's wire form, the settling of an outcome, a handler
that raises) is in wire.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class ProbeFailed(Exception):
    """What `Broker.probe` found wrong, said for an operator."""


@dataclass(frozen=True)
class Message:
    mail_id: str
    key: str  # the recipient address: a broker that orders per key orders per recipient
    delivery: int = 1  # how many times this message has been handed to a consumer
    trace: str = ""  # W3C traceparent of the span that sent it on ("" when untraced)
    # The broker will not hand it out again if this delivery is not settled: consumers
    # died holding it as often as the broker allows (RabbitMQ's x-delivery-limit).
    limit_reached: bool = False


@dataclass(frozen=True)
class Ack:
    """Done (sent, or nothing left to do): never deliver again."""


@dataclass(frozen=True)
class RetryAt:
    """Deliver again, not before `when`."""

    when: datetime
    reason: str


@dataclass(frozen=True)
class Dead:
    """Park it: never deliver again unless an operator replays it."""

    reason: str


Outcome = Ack | RetryAt | Dead
Handler = Callable[[Message], Awaitable[Outcome]]


class Broker(Protocol):
    name: str
    # Whether Message.delivery also counts deliveries to consumers that died. Kafka cannot
    # know that a message it hands out again was read before by a consumer that crashed.
    counts_redeliveries: bool

    async def publish(self, messages: Sequence[Message]) -> None:
        """Durably enqueue; returns once the broker has accepted every message."""

    async def consume(self, handler: Handler, concurrency: int, stop: asyncio.Event) -> None:
        """Hand messages to `handler`, at most `concurrency` at once, until `stop` is set.

        Each message's outcome is applied when the handler returns (wire.deliver: a
        handler or a settle that raises parks the message for a while). A message whose
        handler never returns (the process died) is delivered again later.
        """

    async def publish_event(self, event_type: str, key: str, event_id: str, body: bytes) -> None:
        """Publish an event for other services (REGMAIL_EVENTS_TO_BROKER), confirmed; `key`
        is its account's id (one account's events keep their order). No regmail worker
        consumes it."""

    async def prepare(self) -> None:
        """Create what the broker needs (queues, topics), idempotently; `regmail migrate`."""

    async def ready(self) -> bool:
        """Whether the broker is reachable now (for /readyz)."""

    async def backlog(self) -> int | None:
        """Messages waiting in the broker (for /metrics), or None where the outbox is it."""

    async def probe(self) -> str:
        """Connect afresh and say what is there (`regmail check`); raise ProbeFailed, or the
        client's own error, when something is wrong."""

    async def close(self) -> None: ...
