"""The relay: outbox rows → the broker, each confirmed before its row is deleted.

It is a consumer of the outbox (leases and all), whose handler publishes to the broker.
A relay that dies between the broker's confirm and the row's deletion publishes that
row again after its lease; the worker's idempotency absorbs the copy. Several relays
can run at once: the outbox lease gives each row to one of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import structlog
from opentelemetry.trace import SpanKind

from regmail.brokers.base import Ack, Broker, Message, Outcome, RetryAt
from regmail.clock import utcnow
from regmail.metrics import PUBLISHED
from regmail.tracing import current_traceparent, span

log = structlog.get_logger(__name__)

BROKER_DOWN_RETRY_SECONDS = 1.0


async def run_relay(outbox: Broker, broker: Broker, concurrency: int, stop: asyncio.Event) -> None:
    """Consume `outbox` (the outbox table, brokers/db.py) into `broker` until `stop`."""
    outage = {"logged": False}

    async def forward(message: Message) -> Outcome:
        with span("relay publish", SpanKind.PRODUCER, message.trace) as current:
            current.set_attribute("regmail.mail_id", message.mail_id)
            # Untraced here, the sign-up's traceparent travels on as it is.
            return await publish(replace(message, trace=current_traceparent() or message.trace))

    async def publish(message: Message) -> Outcome:
        try:
            await broker.publish([message])
        except Exception as error:  # broker down, unroutable, confirm refused: try again soon
            if not outage["logged"]:
                log.warning("relay_publish_failed", error=repr(error))
                outage["logged"] = True
            return RetryAt(utcnow() + timedelta(seconds=BROKER_DOWN_RETRY_SECONDS), repr(error))
        if outage["logged"]:
            log.info("relay_publishing_again")
            outage["logged"] = False
        PUBLISHED.inc()
        log.info("mail_published", mail_id=message.mail_id)
        return Ack()

    log.info("relay_started", broker=broker.name, concurrency=concurrency)
    await outbox.consume(forward, concurrency, stop)
    log.info("relay_stopped")
