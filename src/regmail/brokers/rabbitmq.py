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

Mails published in one turn of the loop (the rows of one relay claim) travel as messages
of up to 8 (amqp_batches.py; wire.batch_body): a message's cost is the same whatever it
carries. A batch's mails are handled one by one, at most the worker's concurrency at once
(the prefetch counts messages); those to retry or park go on as messages of their own, and
the batch is acked once every mail is settled. A batch handed out again because a consumer
died holding it is split into single messages, each counting that delivery, so that the
delivery limit is reached by one mail, never by a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from regmail.brokers import wire
from regmail.brokers.amqp_acks import ChannelAcks
from regmail.brokers.amqp_batches import PublishTurns
from regmail.brokers.amqp_nodes import connect_first, connect_nodes
from regmail.brokers.base import Handler, Message, ProbeFailed

log = structlog.get_logger(__name__)
T = TypeVar("T")
SPLIT = "a batch handed out again"  # why a batch's mails went on alone (wire.REASON)


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
        self._connection: AbstractRobustConnection | None = None  # the consumer's
        self._connect_lock = asyncio.Lock()
        self._publishing: _Publishing | None = None
        self._publish_lock = asyncio.Lock()
        self._turns = PublishTurns(self._publish_message)

    async def _connect(self) -> AbstractRobustConnection:
        """The consumer's connection: robust, it reconnects by itself (to the next node of
        a cluster) and restores its channel, queues and consumer."""
        async with self._connect_lock:
            if self._connection is None:
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

    async def _publisher(self) -> _Publishing:
        """The publishing connection, made when there is none. It is plain, not robust:
        dropped on any failure (`_publishing_failed`), made anew by the next publish, on
        the first node that answers. Restoring a channel while its connection moves to
        another node is where a robust connection can wedge a publisher for good."""
        async with self._publish_lock:
            if self._publishing is None or self._publishing.connection.is_closed:
                self._publishing = await self._open_publishing()
            return self._publishing

    async def _open_publishing(self) -> _Publishing:
        connection = await connect_first(self._url, timeout=10)
        try:
            # Confirms on; an unroutable message raises instead of vanishing.
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await self._declare(channel)
            events = None
            if self._events_exchange is not None:
                events = await channel.declare_exchange(
                    self._events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
        except BaseException:
            await connection.close()
            raise
        return _Publishing(connection, exchange, events)

    async def _publishing_failed(self, publishing: _Publishing) -> None:
        """Drop the connection that failed (not a newer one another task made)."""
        if self._publishing is publishing:
            self._publishing = None
        with contextlib.suppress(Exception):
            await publishing.connection.close()

    async def publish(self, messages: Sequence[Message]) -> None:
        await self._turns.publish(messages)  # with those of this turn (amqp_batches.py)

    async def _publish_message(self, mails: Sequence[Message]) -> None:
        publishing = await self._publisher()
        try:
            if len(mails) == 1:
                await _send(publishing.exchange, "mail", mails[0], wire.headers(mails[0]))
            else:
                await _send_batch(publishing.exchange, mails)
        except BaseException:
            await self._publishing_failed(publishing)
            raise

    async def publish_event(self, event_type: str, key: str, event_id: str, body: bytes) -> None:
        """To the topic exchange, routing key = event type, persistent, confirmed. Not
        mandatory: an event nobody has bound a queue for is nobody's to keep."""
        publishing = await self._publisher()
        if publishing.events is None:
            raise RuntimeError("REGMAIL_EVENTS_TO_BROKER is off")
        message = aio_pika.Message(
            body,
            message_id=event_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={"account-id": key},
        )
        try:
            await publishing.events.publish(message, event_type, mandatory=False)
        except BaseException:
            await self._publishing_failed(publishing)
            raise

    async def consume(self, handler: Handler, concurrency: int, stop: asyncio.Event) -> None:
        connection = await self._connect()
        in_flight: set[asyncio.Task[None]] = set()
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            # The prefetch counts messages, a batch as one: single messages (low load)
            # still fill the concurrency, and `room` keeps batches' mails within it.
            await channel.set_qos(prefetch_count=concurrency)
            exchange = await self._declare(channel)
            queue = await channel.get_queue(f"{self._prefix}.mail")
            consuming = _Consuming(handler, exchange, ChannelAcks(), asyncio.Semaphore(concurrency))

            async def on_message(incoming: AbstractIncomingMessage) -> None:
                consuming.acks.delivered(incoming)
                task = asyncio.create_task(self._process(consuming, incoming))
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

    async def _process(self, consuming: _Consuming, incoming: AbstractIncomingMessage) -> None:
        headers: dict[str, Any] = dict(incoming.headers or {})
        returned = int(headers.get("x-delivery-count", 0))  # by consumers that died
        if wire.is_batch(incoming.body):
            await self._process_batch(consuming, incoming, returned)
            return
        received = wire.received(
            incoming.body, headers, returned, limit_reached=returned >= self._delivery_limit
        )
        delivered = _Delivered(self, consuming.exchange, incoming, received.message, consuming.acks)
        async with consuming.room:
            await wire.deliver(consuming.handler, received, delivered, self._failed_delay)

    async def _process_batch(
        self, consuming: _Consuming, incoming: AbstractIncomingMessage, returned: int
    ) -> None:
        """Each mail handled as a message of its own; the batch acknowledged once every one
        is settled (or given back, if one could not be). A batch handed out again after a
        consumer died holding it goes on as single messages: a mail that kills workers then
        reaches the delivery limit alone, not with the mails beside it."""
        if returned:
            # Handed to no handler in this delivery: each goes on counting those before.
            await self._split(consuming, incoming, wire.received_batch(incoming.body, returned - 1))
            return
        mails = wire.received_batch(incoming.body)
        batch = _Batch(self, consuming.exchange)
        await asyncio.gather(*(self._process_one(consuming, batch, mail) for mail in mails))
        await _settle_batch(consuming.acks, incoming, batch.released)

    async def _process_one(self, consuming: _Consuming, batch: _Batch, mail: Message) -> None:
        delivered = _InBatch(batch, mail)
        async with consuming.room:
            await wire.deliver(
                consuming.handler, wire.Received(mail), delivered, self._failed_delay
            )

    async def _split(
        self, consuming: _Consuming, incoming: AbstractIncomingMessage, mails: list[Message]
    ) -> None:
        try:
            await asyncio.gather(
                *(_send(consuming.exchange, "mail", m, wire.headers(m, SPLIT)) for m in mails)
            )
        except Exception as error:
            log.warning("batch_split_failed", error=repr(error), mails=len(mails))
            await _settle_batch(consuming.acks, incoming, released=True)  # split again later
            return
        await _settle_batch(consuming.acks, incoming, released=False)

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
        """A channel opened and closed on the publishing connection (made if needed)."""
        try:
            await self._on_publishing_connection(_opened)
        except (aio_pika.exceptions.AMQPError, OSError, RuntimeError, TimeoutError):
            return False
        return True

    async def backlog(self) -> int | None:
        async def depth(channel: AbstractChannel) -> int | None:
            queue = await channel.declare_queue(f"{self._prefix}.mail", passive=True)
            return queue.declaration_result.message_count

        return await self._on_publishing_connection(depth)

    async def _on_publishing_connection(self, use: Callable[[AbstractChannel], Awaitable[T]]) -> T:
        """`use` a channel of its own on the publishing connection, then close it."""
        publishing = await self._publisher()
        try:
            channel = await publishing.connection.channel()
        except BaseException:
            await self._publishing_failed(publishing)
            raise
        try:
            return await use(channel)
        finally:
            await channel.close()

    async def probe(self) -> str:
        name = f"{self._prefix}.mail"
        connection = await connect_first(self._url, timeout=5)
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
        if self._publishing is not None:
            await self._publishing_failed(self._publishing)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class _Consuming:
    """What every delivery on the consumer's channel is handled with."""

    handler: Handler
    exchange: AbstractExchange  # the work exchange, on the consumer's channel
    acks: ChannelAcks
    room: asyncio.Semaphore  # mails handled at once: the worker's concurrency


@dataclass(frozen=True)
class _Publishing:
    connection: AbstractConnection
    exchange: AbstractExchange  # the work exchange, on a channel with confirms
    events: AbstractExchange | None  # the events' topic exchange, when events go here


class _Delivered:
    """A message on the consumer's channel: settled by publishing on (confirmed), then
    acking (with those finishing beside it: amqp_acks.py); released by a nack that
    requeues it (counted against the delivery limit)."""

    def __init__(
        self,
        broker: RabbitBroker,
        exchange: AbstractExchange,
        incoming: AbstractIncomingMessage,
        message: Message,
        acks: ChannelAcks,
    ) -> None:
        self._broker = broker
        self._exchange = exchange
        self._incoming = incoming
        self._message = message
        self._acks = acks

    async def ack(self) -> None:
        await self._acks.ack(self._incoming)

    async def park(self, due: float, reason: str) -> None:
        await self._broker.park(self._exchange, self._message, due, reason)
        await self._acks.ack(self._incoming)

    async def bury(self, reason: str) -> None:
        await _send(self._exchange, "dead", self._message, wire.headers(self._message, reason))
        await self._acks.ack(self._incoming)

    async def release(self) -> None:
        # A closed channel has handed its unacked messages back already.
        with contextlib.suppress(Exception):
            await self._acks.nack(self._incoming)


class _Batch:
    """The mails of one batch message: parked and buried ones go on as messages of their
    own; the batch itself is acknowledged (or given back) once all are settled."""

    def __init__(self, broker: RabbitBroker, exchange: AbstractExchange) -> None:
        self.broker = broker
        self.exchange = exchange
        self.released = False  # a mail could be neither settled nor parked


class _InBatch:
    """One mail of a batch (wire.Delivered): its settling publishes, never acks."""

    def __init__(self, batch: _Batch, message: Message) -> None:
        self._batch = batch
        self._message = message

    async def ack(self) -> None:
        """Its outcome is recorded; the batch's ack, when all are, says so to RabbitMQ."""

    async def park(self, due: float, reason: str) -> None:
        await self._batch.broker.park(self._batch.exchange, self._message, due, reason)

    async def bury(self, reason: str) -> None:
        headers = wire.headers(self._message, reason)
        await _send(self._batch.exchange, "dead", self._message, headers)

    async def release(self) -> None:
        self._batch.released = True


async def _settle_batch(
    acks: ChannelAcks, incoming: AbstractIncomingMessage, released: bool
) -> None:
    """Ack a batch whose mails are all settled, or give it back. If the channel is gone,
    RabbitMQ has taken the batch back already: handed out again, it is split, and each of
    its mails is found done or sent once (the claim)."""
    try:
        if released:
            await acks.nack(incoming)
        else:
            await acks.ack(incoming)
    except Exception as error:
        log.warning("batch_settle_failed", error=repr(error))


async def _send_batch(exchange: AbstractExchange, mails: Sequence[Message]) -> None:
    """Several mails as one message (wire.batch_body)."""
    await _publish(exchange, "mail", wire.batch_body(mails))


async def _send(
    exchange: AbstractExchange, routing_key: str, message: Message, headers: dict[str, str]
) -> None:
    """One mail as a message of its own."""
    await _publish(
        exchange, routing_key, wire.body(message), message_id=message.mail_id, headers=headers
    )


async def _publish(
    exchange: AbstractExchange, routing_key: str, body: bytes, **properties: Any
) -> None:
    """Persistent, mandatory (unroutable comes back as an error, not into the void), and
    waited for until the broker confirms it (the channels have publisher confirms)."""
    await exchange.publish(
        aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            **properties,
        ),
        routing_key,
        mandatory=True,
    )


async def _opened(channel: AbstractChannel) -> None:
    """Nothing: the channel opened, which is what readiness asks."""


def _label(step: float) -> str:
    return f"{step:g}s"
