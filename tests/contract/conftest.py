"""Brokers for the contract suite: every broker regmail ships, under the same tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
from regmail.brokers.kafka import KafkaBroker
from regmail.brokers.rabbitmq import RabbitBroker
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.settings import Settings
from tests.support.kafka import delete_topics, kafka_test_config
from tests.support.rabbitmq import delete_topology, unique_prefix
from tests.support.servers import ServiceServer

LEASE_SECONDS = 1.0  # how long a dead consumer's message waits before redelivery (db)
RETRY_STEPS = [1.0, 10.0, 60.0]
FAILED_DELAY = 1.5  # how long a message whose handler or settle raised waits


@pytest.fixture(params=["db-sqlite", "db-postgres", "rabbitmq", "kafka"])
def broker_target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(broker kind, URL of a fresh database or of the RabbitMQ server)."""
    kind = str(request.param)
    if kind == "db-postgres":
        return kind, str(request.getfixturevalue("postgres_url"))
    if kind in ("rabbitmq", "kafka"):
        server: ServiceServer = request.getfixturevalue(f"{kind}_server")
        return kind, server.url
    return kind, f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture
async def make_broker(
    broker_target: tuple[str, str],
) -> AsyncIterator[Callable[[], Broker]]:
    """A factory of brokers on one shared queue: each call is another "process"."""
    kind, url = broker_target
    brokers: list[Broker] = []
    if kind == "kafka":
        config = replace(kafka_test_config(url, RETRY_STEPS), failed_delay=FAILED_DELAY)

        def kafka_factory() -> Broker:
            brokers.append(KafkaBroker(config))
            return brokers[-1]

        yield kafka_factory
        for broker in brokers:
            await broker.close()
        await delete_topics(config.bootstrap, KafkaBroker(config).topics)
        return
    if kind == "rabbitmq":
        prefix = unique_prefix()

        def factory() -> Broker:
            brokers.append(RabbitBroker(url, prefix, RETRY_STEPS, 20, FAILED_DELAY))
            return brokers[-1]

        yield factory
        for broker in brokers:
            await broker.close()
        await delete_topology(url, prefix, RETRY_STEPS)
        return

    engine = create_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    await migrate(engine)

    def db_factory() -> Broker:
        brokers.append(
            DbBroker(engine, LEASE_SECONDS, poll_seconds=0.05, failed_delay=FAILED_DELAY)
        )
        return brokers[-1]

    yield db_factory
    for broker in brokers:
        await broker.close()
    await engine.dispose()
