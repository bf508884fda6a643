"""broker=kafka (aiokafka): idempotent producer, retry topics, a dead-letter topic.

Topics (created explicitly; auto-create stays off): `<topic>` for new mail, `<topic>.retry.N`
for each step of the retry ladder, `<topic>.dlt` for dead letters. The key is the recipient,
so one address's mail stays in order within its partition.

Consuming: offsets are committed by hand, and only up to the first message whose outcome is
not yet recorded. Inside a partition, messages with different keys are handled concurrently
(per-key chains), so one slow SMTP send does not hold up the partition and a few partitions
still keep hundreds of sends in flight. A retry-topic partition whose next message is not
due is paused (and that message sought back) until it is: nothing sleeps in a handler and no
partition is blocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from regmail.brokers import wire
from regmail.brokers.base import Handler, Message, ProbeFailed

log = structlog.get_logger(__name__)

READY = "x-regmail-ready-ms"  # when a retry topic's delay has passed (epoch ms)
TOPIC_ALREADY_EXISTS = 36
SEND_RETRY_SECONDS = 1.0
# Finished offsets are committed at most this often while consuming (and always on a
# rebalance and at stop). A commit is a round trip the fetch loop waits for; committing
# after every wake cost more than the sends. A worker killed in between leaves at most
# this much handled-but-uncommitted work, which its successor finds recorded and acks.
COMMIT_INTERVAL_SECONDS = 0.1
REVOKE_DRAIN_SECONDS = 60.0


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str  # host1:9092,host2:9092
    topic: str
    group: str
    partitions: int
    replication: int
    retry_steps: Sequence[float]
    min_insync_replicas: int | None = None  # of the topics it creates; None: the brokers'
    client_options: dict[str, Any] = field(default_factory=dict)  # TLS / SASL
    failed_delay: float = 60.0  # a message whose handler or settle raised waits this long
    events_topic: str | None = None  # account events for other services, when they go here


def bootstrap_from_url(url: str) -> str:
    if not url.startswith("kafka://") or len(url) <= len("kafka://"):
        raise ValueError("REGMAIL_BROKER_URL for Kafka looks like kafka://host1:9092,host2:9092")
    return url.removeprefix("kafka://").rstrip("/")


class _Offsets:
    """Offsets of one partition in flight; commits stop at the first unfinished one."""

    def __init__(self) -> None:
        self._pending: dict[int, bool] = {}  # offset → finished, in fetch order
        self.committable: int | None = None

    def add(self, offset: int) -> None:
        self._pending[offset] = False

    def finish(self, offset: int) -> None:
        if offset in self._pending:
            self._pending[offset] = True
        while self._pending:
            first = next(iter(self._pending))
            if not self._pending[first]:
                break
            del self._pending[first]
            self.committable = first + 1


class KafkaBroker:
    name = "kafka"
    counts_redeliveries = False  # a message re-read after a crash cannot know it was read

    def __init__(self, config: KafkaConfig) -> None:
        if not config.retry_steps:
            raise ValueError("the Kafka retry ladder needs at least one step")
        self._config = config
        self.failed_delay = config.failed_delay
        self._steps = sorted({float(s) for s in config.retry_steps})
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._topics_ready = False

    # ---- topics and producing ----

    def retry_topic(self, index: int) -> str:
        return f"{self._config.topic}.retry.{index}"

    @property
    def dead_topic(self) -> str:
        return f"{self._config.topic}.dlt"

    @property
    def topics(self) -> list[str]:
        """The work topics (consumed: the first ones), the dead-letter topic last."""
        retries = [self.retry_topic(i) for i in range(len(self._steps))]
        return [self._config.topic, *retries, self.dead_topic]

    @property
    def created_topics(self) -> list[str]:
        events = [self._config.events_topic] if self._config.events_topic else []
        return [*self.topics, *events]

    async def ensure_topics(self) -> None:
        """Create the topics if they are missing (idempotent)."""
        if self._topics_ready:
            return
        c = self._config
        admin = AIOKafkaAdminClient(bootstrap_servers=c.bootstrap, **c.client_options)
        await admin.start()
        try:
            configs = {}
            if c.min_insync_replicas is not None:
                # acks=all then means this many replicas have the record; fewer in sync,
                # and the broker refuses the write (NotEnoughReplicas) rather than risk it.
                configs["min.insync.replicas"] = str(c.min_insync_replicas)
            new = [
                NewTopic(t, c.partitions, c.replication, topic_configs=configs)
                for t in self.created_topics
            ]
            response = await admin.create_topics(new)
            for topic, code, *_ in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise KafkaError(f"could not create topic {topic}: error {code}")
        finally:
            await admin.close()
        self._topics_ready = True

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                await self.ensure_topics()
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._config.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    **self._config.client_options,
                )
                await producer.start()
                self._producer = producer
            return self._producer

    async def publish_event(self, event_type: str, key: str, event_id: str, body: bytes) -> None:
        """To the events topic, keyed by account (one account's events in order), acks=all."""
        topic = self._config.events_topic
        if topic is None:
            raise RuntimeError("REGMAIL_EVENTS_TO_BROKER is off")
        producer = await self._ensure_producer()
        headers = [("type", event_type.encode()), ("id", event_id.encode())]
        await producer.send_and_wait(topic, body, key=key.encode(), headers=headers)

    async def publish(self, messages: Sequence[Message]) -> None:
        topic = self._config.topic
        await asyncio.gather(*(self._send(topic, m, wire.headers(m)) for m in messages))

    async def _send(self, topic: str, message: Message, headers: dict[str, str]) -> None:
        """Send and wait for the acknowledgement of all in-sync replicas."""
        producer = await self._ensure_producer()
        await producer.send_and_wait(
            topic,
            wire.body(message),
            key=message.key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )

    async def send_until_done(
        self, topic: str, message: Message, headers: dict[str, str], stop: asyncio.Event
    ) -> None:
        # The offset cannot be committed before this send succeeds; keep trying (Kafka may
        # be restarting) unless the consumer is stopping, when the message is re-read later.
        while True:
            try:
                await self._send(topic, message, headers)
                return
            except KafkaError as error:
                if stop.is_set():
                    raise
                log.warning("kafka_send_retry", topic=topic, error=repr(error))
                await asyncio.sleep(SEND_RETRY_SECONDS)

    # ---- consuming ----

    async def consume(self, handler: Handler, concurrency: int, stop: asyncio.Event) -> None:
        await self.ensure_topics()
        await self._ensure_producer()
        run = _ConsumerRun(self, handler, concurrency, stop)
        await run.run()

    async def park(self, message: Message, due: float, reason: str, stop: asyncio.Event) -> None:
        """Produce to the retry topic whose step fits, marked with when its delay is over."""
        now = time.time()
        index = wire.retry_step(self._steps, due, now)
        headers = wire.headers(message, reason, due)
        headers[READY] = str(int((now + self._steps[index]) * 1000))
        await self.send_until_done(self.retry_topic(index), message, headers, stop)

    async def prepare(self) -> None:
        await self.ensure_topics()

    async def ready(self) -> bool:
        """A metadata round trip through the producer's connections (opened if needed)."""
        try:
            producer = await self._ensure_producer()
            await producer.client.fetch_all_metadata()
        except KafkaError:
            return False
        return True

    async def backlog(self) -> int | None:
        """The worker group's lag on the main topic: end offsets less committed ones."""
        c = self._config
        admin = AIOKafkaAdminClient(bootstrap_servers=c.bootstrap, **c.client_options)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(c.group)
        finally:
            await admin.close()
        partitions = [TopicPartition(c.topic, p) for p in range(c.partitions)]
        consumer = AIOKafkaConsumer(bootstrap_servers=c.bootstrap, **c.client_options)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
        finally:
            await consumer.stop()
        lag = sum(
            ends[tp] - (committed[tp].offset if tp in committed else starts[tp])
            for tp in partitions
        )
        return int(lag)

    async def probe(self) -> str:
        c = self._config
        admin = AIOKafkaAdminClient(
            bootstrap_servers=c.bootstrap, request_timeout_ms=5000, **c.client_options
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
        finally:
            await admin.close()
        missing = [t for t in self.created_topics if t not in existing]
        if missing:
            raise ProbeFailed(f"connected, but topics {missing} are missing: run `regmail migrate`")
        return f"connected; topics {self.topics} exist"

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class _ConsumerRun(ConsumerRebalanceListener):  # type: ignore[misc]
    """One consumer's life in the group: fetch, dispatch per key, commit what is done."""

    def __init__(
        self, broker: KafkaBroker, handler: Handler, concurrency: int, stop: asyncio.Event
    ) -> None:
        self._broker = broker
        self._handler = handler
        self._concurrency = concurrency
        self._stop = stop
        self._slots = asyncio.Semaphore(concurrency)
        self._offsets: dict[TopicPartition, _Offsets] = {}
        self._paused: dict[TopicPartition, float] = {}  # partition → when its head is due
        self._chains: dict[str, asyncio.Task[None]] = {}  # key → its last message's task
        self._in_flight: set[asyncio.Task[None]] = set()
        self._next_commit = 0.0  # monotonic: offsets done before it wait for the next round
        self._retry_topics = set(broker.topics[1:-1])
        c = broker._config
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=c.bootstrap,
            group_id=c.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=concurrency,
            **c.client_options,
        )

    async def run(self) -> None:
        self._consumer.subscribe(self._broker.topics[:-1], listener=self)
        await self._consumer.start()
        try:
            await self._loop()
            await self._drain()
            await self._commit(list(self._offsets))
        except asyncio.CancelledError:
            # Cancelled, the consumer stops as a killed one would: unfinished messages are
            # not committed, so the group hands them to another consumer.
            for task in self._in_flight:
                task.cancel()
            self._offsets.clear()
            raise
        finally:
            await self._consumer.stop()

    async def _loop(self) -> None:
        while not self._stop.is_set():
            self._resume_due()
            if len(self._in_flight) >= 2 * self._concurrency:
                # Enough fetched and waiting: let work finish before fetching more.
                await asyncio.wait(self._in_flight, timeout=0.2, return_when="FIRST_COMPLETED")
            else:
                batches = await self._consumer.getmany(
                    timeout_ms=200, max_records=self._concurrency
                )
                for partition, records in batches.items():
                    self._dispatch(partition, records)
            if time.monotonic() >= self._next_commit:
                await self._commit(list(self._offsets))

    def _resume_due(self) -> None:
        now = time.time()
        due = [tp for tp, at in self._paused.items() if at <= now]
        for tp in due:
            del self._paused[tp]
        if due:
            self._consumer.resume(*due)

    def _dispatch(self, partition: TopicPartition, records: list[ConsumerRecord[Any, Any]]) -> None:
        offsets = self._offsets.setdefault(partition, _Offsets())
        for record in records:
            headers = {k: v.decode() for k, v in record.headers or ()}
            ready = int(headers.get(READY, 0)) / 1000
            if partition.topic in self._retry_topics and ready > time.time():
                # Its delay has not passed (nor that of any later one here): read it again
                # once it has, and leave the partition alone until then.
                self._consumer.seek(partition, record.offset)
                self._consumer.pause(partition)
                self._paused[partition] = ready
                return
            offsets.add(record.offset)
            received = wire.received(record.value, headers)
            message = received.message
            previous = self._chains.get(message.key)
            task = asyncio.create_task(self._handle(received, previous, offsets, record.offset))
            self._chains[message.key] = task
            self._in_flight.add(task)
            task.add_done_callback(self._forget(message.key))

    def _forget(self, key: str) -> Any:
        def forget(task: asyncio.Task[None]) -> None:
            self._in_flight.discard(task)
            if self._chains.get(key) is task:
                del self._chains[key]

        return forget

    async def _handle(
        self,
        received: wire.Received,
        previous: asyncio.Task[None] | None,
        offsets: _Offsets,
        offset: int,
    ) -> None:
        if previous is not None:  # one key, one at a time, in order
            await asyncio.wait([previous])
        delivered = _Delivered(self._broker, received.message, self._stop)
        async with self._slots:
            settled = await wire.deliver(
                self._handler, received, delivered, self._broker.failed_delay
            )
        if settled:  # else it is read again by whoever holds the partition next
            offsets.finish(offset)

    async def _drain(self) -> None:
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=REVOKE_DRAIN_SECONDS)

    async def _commit(self, partitions: list[TopicPartition]) -> None:
        ready = {}
        for tp in partitions:
            offsets = self._offsets.get(tp)
            if offsets is not None and offsets.committable is not None:
                ready[tp] = offsets.committable
                offsets.committable = None
        if not ready:
            return
        self._next_commit = time.monotonic() + COMMIT_INTERVAL_SECONDS
        try:
            await self._consumer.commit(ready)
        except KafkaError as error:  # a rebalance under way, say: commit again next round
            log.warning("kafka_commit_failed", error=repr(error))
            for tp, offset in ready.items():
                offsets = self._offsets.get(tp)
                if offsets is not None and offsets.committable is None:
                    offsets.committable = offset

    # ConsumerRebalanceListener
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Hand over cleanly: finish what is in flight and commit it, so the next owner
        # starts after it and nothing is handled twice.
        await self._drain()
        await self._commit([tp for tp in revoked if tp in self._offsets])
        for tp in revoked:
            self._offsets.pop(tp, None)
            self._paused.pop(tp, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        pass


class _Delivered:
    """A record read: settled by producing it on (acks=all) and letting its offset be
    committed; released by leaving its offset uncommitted."""

    def __init__(self, broker: KafkaBroker, message: Message, stop: asyncio.Event) -> None:
        self._broker = broker
        self._message = message
        self._stop = stop

    async def ack(self) -> None:
        pass  # its offset is committed once every earlier one is

    async def park(self, due: float, reason: str) -> None:
        await self._broker.park(self._message, due, reason, self._stop)

    async def bury(self, reason: str) -> None:
        headers = wire.headers(self._message, reason)
        await self._broker.send_until_done(
            self._broker.dead_topic, self._message, headers, self._stop
        )

    async def release(self) -> None:
        pass
