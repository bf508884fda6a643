from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import report
from tests.support.servers import Cluster, PostgresPair


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
def rabbitmq_cluster() -> Iterator[Cluster]:
    """Three RabbitMQ nodes in one cluster, for this test alone."""
    yield from _cluster("rabbitmq-cluster")


@pytest.fixture
def kafka_cluster() -> Iterator[Cluster]:
    """Three Kafka brokers (RF 3, min.insync.replicas=2), for this test alone."""
    yield from _cluster("kafka-cluster")


def _cluster(service: str) -> Iterator[Cluster]:
    cluster = Cluster.start(service)
    try:
        yield cluster
    finally:
        cluster.stop()
