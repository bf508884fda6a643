from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from regmail.mail.sink import Mailbox, start_sink
from tests.support.brokers import kafka_overrides, rabbit_overrides, remove_kafka, remove_rabbit
from tests.support.servers import PostgresServer, ServiceServer
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import free_port


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--faults-long",
        action="store_true",
        help="run tests/faults at nightly size (10x mails, more kills, longer outages)",
    )
    parser.addoption(
        "--dashboard-picture",
        type=Path,
        help="where the Grafana dashboard test draws its picture (docs/dashboard.png)",
    )


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """Postfix's smtp-sink on a free port (not started: call .start(*options))."""
    sink = SmtpSink(tmp_path)
    yield sink
    sink.stop()


@pytest.fixture
async def aiosmtpd_server() -> AsyncIterator[tuple[str, Mailbox]]:
    """The aiosmtpd-based dev sink on a free port: (smtp url, mailbox it fills)."""
    mailbox = Mailbox()
    port = free_port()
    server = await start_sink(mailbox, "127.0.0.1", port)
    yield f"smtp://127.0.0.1:{port}", mailbox
    server.close()
    await server.wait_closed()


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    return PostgresServer.find()


@pytest.fixture(scope="session")
def rabbitmq_server() -> ServiceServer:
    return ServiceServer.find_or_start("rabbitmq")


@pytest.fixture(scope="session")
def kafka_server() -> ServiceServer:
    return ServiceServer.find_or_start("kafka")


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh database on the test PostgreSQL server (dropped afterwards)."""
    url = await postgres_server.create_database()
    yield url
    await postgres_server.drop_database(url)


@pytest.fixture(params=["db-sqlite", "db-postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database on each engine regmail supports."""
    if request.param == "db-postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'regmail.db'}"


@pytest.fixture
async def rabbit(rabbitmq_server: ServiceServer) -> AsyncIterator[dict[str, Any]]:
    """Settings overrides for a RabbitMQ topology of this test's own (removed afterwards)."""
    overrides = rabbit_overrides(rabbitmq_server.url)
    yield overrides
    await remove_rabbit(overrides)


@pytest.fixture
async def kafka(kafka_server: ServiceServer) -> AsyncIterator[dict[str, Any]]:
    """Settings overrides for Kafka topics and a group of this test's own (removed afterwards)."""
    overrides = kafka_overrides(kafka_server.url, partitions=4)
    yield overrides
    await remove_kafka(overrides)
