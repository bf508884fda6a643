"""Mails published together travel together over RabbitMQ (brokers/amqp_batches.py), on a
real server: a batch is a message of up to 8 mails, each handled once; a mail of a batch
that must wait goes to the retry ladder alone; a batch handed out again because its
consumer died is split, and each mail counts that delivery."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from regmail.brokers.amqp_batches import MAILS_PER_MESSAGE
from regmail.brokers.base import Ack, Handler, Message, Outcome, RetryAt
from regmail.brokers.rabbitmq import RabbitBroker
from regmail.clock import utcnow
from tests.support.rabbitmq import (
    delete_topology,
    die_holding_a_message,
    queue_depth,
    unique_prefix,
)
from tests.support.servers import ServiceServer
from tests.support.waiting import eventually

STEPS = [1.0, 10.0]


@pytest.fixture
async def broker(rabbitmq_server: ServiceServer) -> AsyncIterator[RabbitBroker]:
    prefix = unique_prefix()
    broker = RabbitBroker(rabbitmq_server.url, prefix, STEPS, 20, failed_delay=1.0)
    await broker.prepare()
    yield broker
    await broker.close()
    await delete_topology(rabbitmq_server.url, prefix, STEPS)


def _mails(n: int) -> list[Message]:
    return [Message(str(uuid.uuid4()), f"u{i}@example.com") for i in range(n)]


@asynccontextmanager
async def _consuming(
    broker: RabbitBroker, handler: Handler, concurrency: int = 10
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(broker.consume(handler, concurrency, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _recorder(
    outcome: Callable[[Message], Awaitable[Outcome]] | None = None,
) -> tuple[list[Message], Handler]:
    seen: list[Message] = []

    async def handler(message: Message) -> Outcome:
        seen.append(message)
        return await outcome(message) if outcome else Ack()

    return seen, handler


async def _depth(broker: RabbitBroker, queue: str) -> int:
    return await queue_depth(broker._url, f"{broker._prefix}.{queue}")


async def test_mails_published_together_are_few_messages_each_mail_handled_once(
    broker: RabbitBroker,
) -> None:
    mails = _mails(2 * MAILS_PER_MESSAGE + 4)
    await asyncio.gather(*(broker.publish([m]) for m in mails))  # as the relay does
    assert await _depth(broker, "mail") == 3
    seen, handler = _recorder()
    async with _consuming(broker, handler, concurrency=4):  # fewer than a batch holds
        await eventually(lambda: _emptied(broker, seen, len(mails)), timeout=30)
    assert Counter(m.mail_id for m in seen) == Counter(m.mail_id for m in mails)
    assert {m.delivery for m in seen} == {1}


async def test_a_mail_of_a_batch_that_must_wait_goes_to_the_ladder_alone(
    broker: RabbitBroker,
) -> None:
    mails = _mails(5)
    waits = mails[2].mail_id

    async def one_waits_once(message: Message) -> Outcome:
        if message.mail_id == waits and message.delivery == 1:
            return RetryAt(utcnow() + timedelta(seconds=1), "4.2.0 busy")
        return Ack()

    await asyncio.gather(*(broker.publish([m]) for m in mails))
    seen, handler = _recorder(one_waits_once)
    async with _consuming(broker, handler):
        await eventually(lambda: _emptied(broker, seen, len(mails) + 1), timeout=30)
    assert Counter(m.mail_id for m in seen) == Counter([*(m.mail_id for m in mails), waits])
    again = [m for m in seen if m.mail_id == waits][-1]
    assert again.delivery == 2  # the parked copy counts the first delivery


async def test_a_batch_its_consumer_died_holding_is_split_each_mail_handled_once_more(
    broker: RabbitBroker,
) -> None:
    mails = _mails(3)
    await asyncio.gather(*(broker.publish([m]) for m in mails))
    assert await _depth(broker, "mail") == 1
    await die_holding_a_message(broker)  # the whole batch: all three mails in its hands

    seen, handler = _recorder()
    async with _consuming(broker, handler):
        await eventually(lambda: _emptied(broker, seen, len(mails)), timeout=30)
    assert Counter(m.mail_id for m in seen) == Counter(m.mail_id for m in mails)
    assert {m.delivery for m in seen} == {2}


async def _emptied(broker: RabbitBroker, seen: list[Message], handled: int) -> bool:
    """Every expected handling happened and nothing waits in the work queue."""
    return len(seen) >= handled and await _depth(broker, "mail") == 0
