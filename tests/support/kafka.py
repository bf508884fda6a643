"""Kafka helpers for tests: topics and a consumer group of one's own, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient

from regmail.brokers.kafka import KafkaConfig, bootstrap_from_url


def kafka_test_config(url: str, steps: Sequence[float], partitions: int = 4) -> KafkaConfig:
    name = f"regmail-test-{uuid.uuid4().hex[:10]}"
    return KafkaConfig(
        bootstrap=bootstrap_from_url(url),
        topic=f"{name}.mail",
        group=f"{name}-workers",
        partitions=partitions,
        replication=1,
        retry_steps=list(steps),
    )


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()
