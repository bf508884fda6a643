"""SQLite has no NOTIFY: an idle db-broker worker wakes on another connection's commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from regmail.brokers.base import Ack, Message
from regmail.brokers.db import DbBroker
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.settings import Settings
from tests.support.waiting import eventually


async def test_an_idle_worker_wakes_on_another_connections_commit(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'wake.db'}"
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    # Two engines: the producer's commits come from another connection, as an API
    # process's would, and its in-process wake-up cannot reach the consumer.
    consumer_engine, producer_engine = create_engine(settings), create_engine(settings)
    await migrate(consumer_engine)
    # Polling once a minute: a message seen within seconds can only have come by the watch.
    consumer = DbBroker(consumer_engine, lease_seconds=60, poll_seconds=60)
    producer = DbBroker(producer_engine, lease_seconds=60, poll_seconds=60)
    seen: list[str] = []

    async def handler(message: Message) -> Ack:
        seen.append(message.mail_id)
        return Ack()

    stop = asyncio.Event()
    task = asyncio.create_task(consumer.consume(handler, 5, stop))
    try:
        for n in range(3):
            await producer.publish([Message(f"mail-{n}", "wake@example.com")])
            await eventually(_has(seen, n + 1), timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await consumer_engine.dispose()
        await producer_engine.dispose()
    assert seen == ["mail-0", "mail-1", "mail-2"]


def _has(seen: list[str], count: int):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return len(seen) == count

    return probe
