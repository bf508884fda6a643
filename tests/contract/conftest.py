"""Brokers for the contract suite: every broker regmail ships, under the same tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.settings import Settings

LEASE_SECONDS = 1.0  # how long a dead consumer's message waits before redelivery


@pytest.fixture
async def make_broker(database_url: str) -> AsyncIterator[Callable[[], Broker]]:
    """A factory of brokers on one shared queue: each call is another "process".

    Parametrised (through `database_url`) over db-sqlite and db-postgres.
    """
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    engine = create_engine(settings)
    await migrate(engine)
    brokers: list[Broker] = []

    def factory() -> Broker:
        broker = DbBroker(engine, lease_seconds=LEASE_SECONDS, poll_seconds=0.05)
        brokers.append(broker)
        return broker

    yield factory
    for broker in brokers:
        await broker.close()
    await engine.dispose()
