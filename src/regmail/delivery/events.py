"""Delivering an event: to a webhook endpoint (signed, Standard Webhooks) or to the event
broker (a RabbitMQ topic exchange or a Kafka topic, confirmed like mail).

What an answer means, for a webhook: 2xx delivered; a refused or timed-out connection
pauses that endpoint (no attempt counted, its own gate: mail and other endpoints go on);
429, 5xx, a read timeout or a broken response retried with backoff, no sooner than its
Retry-After; any other status dead, the status kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from regmail.brokers.base import Broker
from regmail.mail.replies import SendFailed, SendFailure
from regmail.mails.events import EVENT_BROKER, Endpoint
from regmail.webhooks import sign

MAX_REPLY = 300


class EventSender:
    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        timeout: float,
        concurrency: int,
        broker: Broker | None,
    ) -> None:
        self._endpoints = {endpoint.destination: endpoint for endpoint in endpoints}
        self._slots = {name: asyncio.Semaphore(concurrency) for name in self._endpoints}
        self._broker = broker  # for the `broker` destination
        self._client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency * max(1, len(self._endpoints))),
            follow_redirects=False,
        )

    def knows(self, destination: str) -> bool:
        return destination in self._endpoints or (
            destination == EVENT_BROKER and self._broker is not None
        )

    async def send(
        self, destination: str, event_type: str, key: str, event_id: str, body: bytes
    ) -> str:
        """Deliver; the receiver's answer, or SendFailed."""
        if destination == EVENT_BROKER:
            assert self._broker is not None
            try:
                await self._broker.publish_event(event_type, key, event_id, body)
            except Exception as error:  # the broker is away: pause this destination
                raise SendFailed(SendFailure("provider", repr(error)[:MAX_REPLY])) from error
            return "published"
        return await self._post(self._endpoints[destination], event_id, body)

    async def _post(self, endpoint: Endpoint, event_id: str, body: bytes) -> str:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(endpoint.secret, event_id, timestamp, body),
        }
        async with self._slots[endpoint.destination]:
            try:
                response = await self._client.post(endpoint.url, content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
                failure = SendFailure("provider", f"{type(error).__name__}: {error}")
                raise SendFailed(failure) from error
            except httpx.TransportError as error:  # read timeout, a broken answer: retry
                failure = SendFailure("transient", f"{type(error).__name__}: {error}")
                raise SendFailed(failure) from error
        reply = f"HTTP {response.status_code} {response.text[:MAX_REPLY]}".strip()
        if response.is_success:
            return reply
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = _retry_after(response.headers.get("retry-after"))
            raise SendFailed(SendFailure("transient", reply, retry_after))
        raise SendFailed(SendFailure("permanent", reply))

    async def close(self) -> None:
        await self._client.aclose()


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
