"""The broker contract: what every broker (db-sqlite, db-postgres, rabbitmq, kafka) must
do, tested the same way for each. Only the fixture knows which broker it is."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from regmail.brokers import wire
from regmail.brokers.base import Ack, Broker, Dead, Handler, Message, Outcome, RetryAt
from regmail.clock import utcnow
from regmail.metrics import HANDLER_FAILURES
from tests.contract.conftest import FAILED_DELAY, LEASE_SECONDS
from tests.support.waiting import eventually

BrokerFactory = Callable[[], Broker]


def messages(n: int, key: str | None = None) -> list[Message]:
    return [Message(str(uuid.uuid4()), key or f"user{i}@example.com") for i in range(n)]


@asynccontextmanager
async def consuming(broker: Broker, handler: Handler, concurrency: int = 10):
    """Run a consumer for the duration of the block; stop it cleanly at the end."""
    stop = asyncio.Event()
    task = asyncio.create_task(broker.consume(handler, concurrency, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def recorder(outcome: Callable[[Message], Awaitable[Outcome]] | None = None):
    seen: list[Message] = []

    async def handler(message: Message) -> Outcome:
        seen.append(message)
        return await outcome(message) if outcome else Ack()

    return seen, handler


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, timeout)


async def test_publish_then_consume(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    sent = messages(25)
    await broker.publish(sent)
    seen, handler = recorder()
    async with consuming(broker, handler):
        await until(lambda: len(seen) >= len(sent))
    assert Counter(m.mail_id for m in seen) == Counter(m.mail_id for m in sent)
    assert {(m.mail_id, m.key) for m in seen} == {(m.mail_id, m.key) for m in sent}


async def test_retry_at_is_not_redelivered_before_its_time_and_is_after(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker()
    [message] = messages(1)
    delay = timedelta(seconds=1.5)
    handled_at: list[float] = []

    async def retry_once(m: Message) -> Outcome:
        handled_at.append(time.monotonic())
        return RetryAt(utcnow() + delay, "try later") if len(handled_at) == 1 else Ack()

    seen, handler = recorder(retry_once)
    await broker.publish([message])
    async with consuming(broker, handler):
        await until(lambda: len(seen) == 2)
    assert [m.mail_id for m in seen] == [message.mail_id] * 2
    assert handled_at[1] - handled_at[0] >= delay.total_seconds() - 0.05
    assert seen[1].delivery > seen[0].delivery


async def test_dead_is_never_redelivered(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    [doomed] = messages(1)
    seen, handler = recorder(lambda m: _const(Dead("rejected")))
    await broker.publish([doomed])
    async with consuming(broker, handler):
        await until(lambda: len(seen) == 1)

    # A new consumer sees later messages but never the dead one again.
    later = make_broker()
    [marker] = messages(1, key=doomed.key)
    seen_later, handler_later = recorder()
    await later.publish([marker])
    async with consuming(later, handler_later):
        await until(lambda: any(m.mail_id == marker.mail_id for m in seen_later))
    assert [m.mail_id for m in seen_later] == [marker.mail_id]
    assert len(seen) == 1


async def test_a_consumer_that_dies_before_acking_loses_nothing(
    make_broker: BrokerFactory,
) -> None:
    first, second = make_broker(), make_broker()
    [message] = messages(1)
    never = asyncio.Event()
    taken: list[Message] = []

    async def hang(m: Message) -> Outcome:
        taken.append(m)
        await never.wait()  # the process dies here, mid-handling
        return Ack()

    await first.publish([message])
    doomed = asyncio.create_task(first.consume(hang, 5, asyncio.Event()))
    await until(lambda: len(taken) == 1)
    doomed.cancel()  # as if killed: no outcome is ever applied
    await asyncio.gather(doomed, return_exceptions=True)

    seen, handler = recorder()
    async with consuming(second, handler):
        await until(lambda: len(seen) == 1, timeout=LEASE_SECONDS + 30)
    assert seen[0].mail_id == message.mail_id
    if second.counts_redeliveries:
        assert seen[0].delivery == taken[0].delivery + 1


async def test_competing_consumers_share_the_work_and_handle_each_message_once(
    make_broker: BrokerFactory,
) -> None:
    handled_by: list[tuple[int, str]] = []

    def handler_of(consumer: int) -> Handler:
        async def handle(m: Message) -> Outcome:
            handled_by.append((consumer, m.mail_id))
            await asyncio.sleep(0.005)  # stands for the SMTP send
            return Ack()

        return handle

    brokers = [make_broker() for _ in range(4)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(b.consume(handler_of(i), 5, stop)) for i, b in enumerate(brokers)]
    # Publish in waves while the consumers come up (a Kafka group forms, rebalancing as
    # members join), until at least 200 messages went out and more than one consumer
    # took part. Handovers during the waves must not make anything go twice.
    publisher = make_broker()
    sent: list[Message] = []

    async def shared() -> bool:
        if len(sent) < 2000:
            wave = messages(20)
            await publisher.publish(wave)
            sent.extend(wave)
        consumers = {consumer for consumer, _ in handled_by}
        return len(sent) >= 200 and len(consumers) >= 2

    try:
        await eventually(shared, timeout=60, interval=0.05)
    finally:
        await until(lambda: len(handled_by) >= len(sent))
        stop.set()
        await asyncio.gather(*tasks)
    counts = Counter(mail_id for _, mail_id in handled_by)
    assert set(counts) == {m.mail_id for m in sent}
    assert max(counts.values()) == 1, "a message was handled twice"


async def test_one_key_is_delivered_in_publish_order_to_a_sequential_consumer(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker()
    sent = messages(20, key="ordered@example.com")
    for message in sent:  # one by one, as sign-ups would enqueue them
        await broker.publish([message])
    seen, handler = recorder()
    async with consuming(broker, handler, concurrency=1):
        await until(lambda: len(seen) == len(sent))
    assert [m.mail_id for m in seen] == [m.mail_id for m in sent]


async def test_throughput_smoke(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    sent = messages(1000)
    await broker.publish(sent)
    seen, handler = recorder()
    started = time.monotonic()
    async with consuming(broker, handler, concurrency=50):
        await until(lambda: len(seen) >= len(sent), timeout=120)
    rate = len(sent) / (time.monotonic() - started)
    print(f"{type(broker).__name__}: {rate:.0f} messages/s")
    assert len({m.mail_id for m in seen}) == len(sent)


async def test_a_handler_that_raises_is_redelivered_after_the_delay_then_acked(
    make_broker: BrokerFactory,
) -> None:
    calls: list[Message] = []

    async def raise_once(m: Message) -> Outcome:
        calls.append(m)
        if len(calls) == 1:
            raise RuntimeError("a bug in the handler")
        return Ack()

    await _handled_again_after_the_delay_then_acked(make_broker, "handler", raise_once)


async def test_a_settle_that_raises_is_redelivered_after_the_delay_then_acked(
    make_broker: BrokerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle = wire.settle
    settles: list[Outcome] = []

    async def settle_failing_once(delivered: wire.Delivered, outcome: Outcome) -> None:
        settles.append(outcome)
        if len(settles) == 1:
            raise ConnectionError("the broker went away while settling")
        await settle(delivered, outcome)

    monkeypatch.setattr(wire, "settle", settle_failing_once)
    await _handled_again_after_the_delay_then_acked(make_broker, "settle", _ack)


async def _handled_again_after_the_delay_then_acked(
    make_broker: BrokerFactory, stage: str, handler: Handler
) -> None:
    """One message whose `stage` fails once: handled a second time no sooner than the
    delay, then acknowledged; the failure counted once."""
    broker = make_broker()
    [message] = messages(1)
    handled_at: list[float] = []

    async def timed(m: Message) -> Outcome:
        handled_at.append(time.monotonic())
        return await handler(m)

    failures = HANDLER_FAILURES.labels(stage)._value.get()
    await broker.publish([message])
    async with consuming(broker, timed):
        await until(lambda: len(handled_at) == 2)
    await _was_acknowledged(make_broker, message)
    assert handled_at[1] - handled_at[0] >= FAILED_DELAY - 0.05
    assert HANDLER_FAILURES.labels(stage)._value.get() == failures + 1


async def _was_acknowledged(make_broker: BrokerFactory, message: Message) -> None:
    """A new consumer gets a later message on the same key, and not `message` again even
    once a lease has run out (an unsettled db row would be due again by then; an unacked
    RabbitMQ message or uncommitted Kafka offset would come first)."""
    [marker] = messages(1, key=message.key)
    seen, handler = recorder()
    later = make_broker()
    await later.publish([marker])
    leased_until = time.monotonic() + LEASE_SECONDS + 0.5
    async with consuming(later, handler):
        await until(
            lambda: (
                any(m.mail_id == marker.mail_id for m in seen) and time.monotonic() > leased_until
            )
        )
    assert [m.mail_id for m in seen] == [marker.mail_id]


async def _const(outcome: Outcome) -> Outcome:
    return outcome


async def _ack(_: Message) -> Outcome:
    return Ack()
