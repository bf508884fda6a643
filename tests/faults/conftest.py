from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import report
from tests.support.servers import KafkaCluster, PostgresPair, RabbitCluster


@pytest.fixture
def long_mode(request: pytest.FixtureRequest) -> bool:
    """--faults-long: the nightly-sized runs (more mails, more kills, longer outages)."""
    return bool(request.config.getoption("--faults-long"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.testsfailed == 0:
        report.write()


@pytest.fixture
def postgres_pair() -> Iterator[PostgresPair]:
    """A PostgreSQL primary with a synchronous standby, for this test alone."""
    pair = PostgresPair.start()
    try:
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def rabbitmq_cluster() -> Iterator[RabbitCluster]:
    """Three RabbitMQ nodes in one cluster, for this test alone."""
    cluster = RabbitCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kafka_cluster() -> Iterator[KafkaCluster]:
    """Three Kafka brokers (RF 3, min.insync.replicas=2), for this test alone."""
    cluster = KafkaCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
