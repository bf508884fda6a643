"""Whether an idle db-broker consumer is woken by another connection's publish."""

from __future__ import annotations

import asyncio

from regmail.brokers.base import Ack, Message
from regmail.brokers.db import DbBroker
from tests.support.waiting import eventually


async def handled_one_by_one(consumer: DbBroker, producer: DbBroker, count: int = 3) -> list[str]:
    """`producer` publishes `count` mails, each once the consumer has handled the one before
    (within 10 s); the mail ids in the order the consumer handled them.

    Give both a poll of a minute: a mail seen within seconds was then seen because the
    consumer was woken. The wake-up source's one wake when it connects explains at most one.
    """
    seen: list[str] = []

    async def handler(message: Message) -> Ack:
        seen.append(message.mail_id)
        return Ack()

    async def handled(n: int) -> bool:
        return len(seen) == n

    stop = asyncio.Event()
    task = asyncio.create_task(consumer.consume(handler, 5, stop))
    try:
        for n in range(count):
            await producer.publish([Message(f"mail-{n}", "wake@example.com")])
            await eventually(lambda n=n: handled(n + 1), timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return seen
