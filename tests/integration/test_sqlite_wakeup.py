"""SQLite has no NOTIFY: an idle db-broker worker wakes on another connection's commit."""

from __future__ import annotations

from pathlib import Path

from regmail.brokers.db import DbBroker
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.settings import Settings
from tests.support.wakeup import handled_one_by_one


async def test_an_idle_worker_wakes_on_another_connections_commit(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'wake.db'}"
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    # Two engines: the producer's commits come from another connection, as an API
    # process's would, and its in-process wake-up cannot reach the consumer.
    consumer_engine, producer_engine = create_engine(settings), create_engine(settings)
    await migrate(consumer_engine)
    consumer = DbBroker(consumer_engine, lease_seconds=60, poll_seconds=60)
    producer = DbBroker(producer_engine, lease_seconds=60, poll_seconds=60)
    try:
        seen = await handled_one_by_one(consumer, producer)
    finally:
        await consumer_engine.dispose()
        await producer_engine.dispose()
    assert seen == ["mail-0", "mail-1", "mail-2"]
