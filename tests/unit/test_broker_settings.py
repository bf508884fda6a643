"""Cluster settings of the brokers: Kafka's min.insync.replicas follows the replication
factor unless set, and cannot exceed it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from regmail.brokers.factory import kafka_config
from regmail.settings import Settings
from tests.support.service import TEST_DEFAULTS

KAFKA = "kafka://k1:9092,k2:9092,k3:9092"


def _settings(**overrides: object) -> Settings:
    return Settings(**{**TEST_DEFAULTS, "broker_url": KAFKA, **overrides})


@pytest.mark.parametrize(("replication", "expected"), [(1, None), (2, None), (3, 2), (5, 2)])
def test_min_insync_replicas_is_two_from_a_replication_of_three(
    replication: int, expected: int | None
) -> None:
    config = kafka_config(_settings(kafka_replication=replication), KAFKA)
    assert config.min_insync_replicas == expected
    assert config.bootstrap == "k1:9092,k2:9092,k3:9092"


def test_an_explicit_min_insync_replicas_is_kept() -> None:
    config = kafka_config(_settings(kafka_replication=5, kafka_min_insync_replicas=3), KAFKA)
    assert config.min_insync_replicas == 3


def test_min_insync_replicas_above_the_replication_is_refused() -> None:
    with pytest.raises(ValidationError, match="MIN_INSYNC_REPLICAS above"):
        _settings(kafka_replication=2, kafka_min_insync_replicas=3)
