"""RabbitMQ helpers for tests: a topology of one's own, removed afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from regmail.brokers.amqp_nodes import connect_first
from regmail.brokers.base import Ack, Broker, Message


def unique_prefix() -> str:
    return f"regmail-test-{uuid.uuid4().hex[:10]}"


async def delete_topology(url: str, prefix: str, steps: Sequence[float]) -> None:
    connection = await connect_first(url, timeout=10)  # a cluster's URL too
    async with connection:
        channel = await connection.channel()
        names = [f"{prefix}.mail", f"{prefix}.dead", *(f"{prefix}.retry.{s:g}s" for s in steps)]
        for name in names:
            await channel.queue_delete(name)
        await channel.exchange_delete(prefix)


async def queue_depth(url: str, name: str) -> int:
    connection = await connect_first(url, timeout=10)  # a cluster's URL too
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def die_holding_a_message(broker: Broker) -> None:
    """A consumer that takes the message and is killed before it settles it."""
    taken = asyncio.Event()

    async def hang(message: Message) -> Ack:
        taken.set()
        await asyncio.Event().wait()
        return Ack()

    consumer = asyncio.create_task(broker.consume(hang, 1, asyncio.Event()))
    await asyncio.wait_for(taken.wait(), 30)
    consumer.cancel()  # as if killed: its channel closes and RabbitMQ takes the message back
    await asyncio.gather(consumer, return_exceptions=True)
