"""broker=rabbitmq (aio-pika): durable quorum queues, publisher confirms, a TTL retry ladder.

Topology, declared idempotently by every publisher and consumer (`<p>` is the prefix):

    exchange <p> (direct, durable)
      ├─ "mail"      → <p>.mail        quorum; x-delivery-limit; over the limit → "dead"
      ├─ "retry.<s>" → <p>.retry.<s>s  quorum; x-message-ttl = s; expired → "mail"
      └─ "dead"      → <p>.dead        quorum; parked messages for operators to inspect

A retry never holds an unacknowledged message: the consumer publishes the message to the
ladder step that fits (confirmed), then acks. A message carries the time it is due; one
that comes back early (a long delay takes several hops) is parked again without being
handed to the handler, so nothing is delivered before its time (wire.deliver).

A message that consumers died holding `delivery_limit` times is handed to the handler once
more, marked `limit_reached`: the worker then marks its mail dead (`delivery-limit`) and
it is parked in `<p>.dead`. Left to the broker's own limit, it would vanish into the dead
queue with its mail left unfinished (`queued` or `sending`) for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from regmail.brokers import wire
from regmail.brokers.amqp_nodes import connect_nodes
from regmail.brokers.base import Handler, Message, ProbeFailed

log = structlog.get_logger(__name__)


class RabbitBroker:
    name = "rabbitmq"
    counts_redeliveries = True

    def __init__(
        self,
        url: str,
        prefix: str,
        retry_steps: Sequence[float],
        delivery_limit: int,
        failed_delay: float = 60.0,
        events_exchange: str | None = None,
        quorum_size: int | None = None,
    ) -> None:
        if not retry_steps:
            raise ValueError("the RabbitMQ retry ladder needs at least one step")
        self._url = url
        self._prefix = prefix
        self._steps = sorted({float(s) for s in retry_steps})
        self._delivery_limit = delivery_limit
        self._failed_delay = failed_delay
        self._events_exchange = events_exchange  # a topic exchange, when events go here
        self._quorum_size = quorum_size
        self._events: AbstractExchange | None = None
        self._connection: AbstractRobustConnection | None = None
        self._connect_lock = asyncio.Lock()
        self._publish_channel: AbstractChannel | None = None
        self._publish_exchange: AbstractExchange | None = None

    async def _connect(self) -> AbstractRobustConnection:
        async with self._connect_lock:
            if self._connection is None:
                # A robust connection reconnects by itself (to the next node of a
                # cluster) and restores its channels, queues and consumers.
                self._connection = await connect_nodes(self._url, timeout=10)
            return self._connection

    async def _declare(self, channel: AbstractChannel) -> AbstractExchange:
        p = self._prefix
        exchange = await channel.declare_exchange(p, aio_pika.ExchangeType.DIRECT, durable=True)
        safe: dict[str, Any] = {"x-queue-type": "quorum", "x-overflow": "reject-publish"}
        if self._quorum_size is not None:
            # Read only when a queue is created; a re-declaration must not differ from
            # what the queue was created with, so it is sent only when configured.
            safe["x-quorum-initial-group-size"] = self._quorum_size
        at_least_once = {"x-dead-letter-exchange": p, "x-dead-letter-strategy": "at-least-once"}
        work = await channel.declare_queue(
            f"{p}.mail",
            durable=True,
            arguments={
                **safe,
                **at_least_once,
                "x-dead-letter-routing-key": "dead",
                "x-delivery-limit": self._delivery_limit,
            },
        )
        await work.bind(exchange, "mail")
        dead = await channel.declare_queue(f"{p}.dead", durable=True, arguments=dict(safe))
        await dead.bind(exchange, "dead")
        for step in self._steps:
            rung = await channel.declare_queue(
                f"{p}.retry.{_label(step)}",
                durable=True,
                arguments={
                    **safe,
                    **at_least_once,
                    "x-dead-letter-routing-key": "mail",
                    "x-message-ttl": int(step * 1000),
                },
            )
            await rung.bind(exchange, f"retry.{_label(step)}")
        return exchange

    async def _publisher(self) -> AbstractExchange:
        connection = await self._connect()
        async with self._connect_lock:
            if (
                self._publish_exchange is None
                or self._publish_channel is None
                or (self._publish_channel.is_closed)
            ):
                # Confirms on; an unroutable message raises instead of vanishing.
                self._publish_channel = await connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                self._publish_exchange = await self._declare(self._publish_channel)
                self._events = None
                if self._events_exchange is not None:
                    self._events = await self._publish_channel.declare_exchange(
                        self._events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
                    )
            return self._publish_exchange

    async def publish(self, messages: Sequence[Message]) -> None:
        exchange = await self._publisher()
        await asyncio.gather(*(_send(exchange, "mail", m, wire.headers(m)) for m in messages))

    async def publish_event(self, event_type: str, key: str, event_id: str, body: bytes) -> None:
        """To the topic exchange, routing key = event type, persistent, confirmed. Not
        mandatory: an event nobody has bound a queue for is nobody's to keep."""
        await self._publisher()
        if self._events is None:
            raise RuntimeError("REGMAIL_EVENTS_TO_BROKER is off")
        await self._events.publish(
            aio_pika.Message(
                body,
                message_id=event_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={"account-id": key},
            ),
            event_type,
            mandatory=False,
        )

    async def consume(self, handler: Handler, concurrency: int, stop: asyncio.Event) -> None:
        connection = await self._connect()
        in_flight: set[asyncio.Task[None]] = set()
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            await channel.set_qos(prefetch_count=concurrency)
            exchange = await self._declare(channel)
            queue = await channel.get_queue(f"{self._prefix}.mail")

            async def on_message(incoming: AbstractIncomingMessage) -> None:
                task = asyncio.create_task(self._process(handler, incoming, exchange))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)

            tag = await queue.consume(on_message, no_ack=False)
            await stop.wait()
            await queue.cancel(tag)
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        except asyncio.CancelledError:
            # Cancelled, the consumer stops as a killed one would: nothing more is acked,
            # and closing the channel hands its unacked messages to other consumers.
            for task in in_flight:
                task.cancel()
            raise
        finally:
            await channel.close()

    async def _process(
        self, handler: Handler, incoming: AbstractIncomingMessage, exchange: AbstractExchange
    ) -> None:
        headers: dict[str, Any] = dict(incoming.headers or {})
        returned = int(headers.get("x-delivery-count", 0))  # by consumers that died
        received = wire.received(
            incoming.body, headers, returned, limit_reached=returned >= self._delivery_limit
        )
        delivered = _Delivered(self, exchange, incoming, received.message)
        await wire.deliver(handler, received, delivered, self._failed_delay)

    async def park(
        self, exchange: AbstractExchange, message: Message, due: float, reason: str
    ) -> None:
        """Publish to the ladder step that fits (confirmed)."""
        step = self._steps[wire.retry_step(self._steps, due, time.time())]
        headers = wire.headers(message, reason, due)
        await _send(exchange, f"retry.{_label(step)}", message, headers)

    async def prepare(self) -> None:
        await self._publisher()  # declares the topology

    async def ready(self) -> bool:
        """A channel opened and closed on the shared connection (opened if needed)."""
        try:
            connection = await self._connect()
            channel = await connection.channel()
            await channel.close()
        except (aio_pika.exceptions.AMQPError, OSError, RuntimeError):
            return False
        return True

    async def backlog(self) -> int | None:
        connection = await self._connect()
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(f"{self._prefix}.mail", passive=True)
            return queue.declaration_result.message_count
        finally:
            await channel.close()

    async def probe(self) -> str:
        name = f"{self._prefix}.mail"
        connection = await connect_nodes(self._url, timeout=5)
        async with connection:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                missing = f"connected, but queue {name} is missing: run `regmail migrate`"
                raise ProbeFailed(missing) from None
            depth = queue.declaration_result.message_count
            return f"connected; queue {name} holds {depth} messages"

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self._publish_channel = self._publish_exchange = self._events = None


class _Delivered:
    """A message on the consumer's channel: settled by publishing on (confirmed), then
    acking; released by a nack that requeues it (counted against the delivery limit)."""

    def __init__(
        self,
        broker: RabbitBroker,
        exchange: AbstractExchange,
        incoming: AbstractIncomingMessage,
        message: Message,
    ) -> None:
        self._broker = broker
        self._exchange = exchange
        self._incoming = incoming
        self._message = message

    async def ack(self) -> None:
        await self._incoming.ack()

    async def park(self, due: float, reason: str) -> None:
        await self._broker.park(self._exchange, self._message, due, reason)
        await self._incoming.ack()

    async def bury(self, reason: str) -> None:
        await _send(self._exchange, "dead", self._message, wire.headers(self._message, reason))
        await self._incoming.ack()

    async def release(self) -> None:
        # A closed channel has handed its unacked messages back already.
        with contextlib.suppress(Exception):
            await self._incoming.nack(requeue=True)


async def _send(
    exchange: AbstractExchange, routing_key: str, message: Message, headers: dict[str, str]
) -> None:
    """Publish persistently and wait for the broker's confirm."""
    await exchange.publish(
        aio_pika.Message(
            wire.body(message),
            message_id=message.mail_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=dict(headers),
        ),
        routing_key,
        mandatory=True,
    )


def _label(step: float) -> str:
    return f"{step:g}s"
