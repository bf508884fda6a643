"""Settings overrides that give a test a RabbitMQ topology or Kafka topics of its own."""

from __future__ import annotations

from typing import Any

from tests.support.kafka import delete_topics, kafka_test_config
from tests.support.rabbitmq import delete_topology, unique_prefix

# Short, so retry tests finish quickly; the schedule itself is covered by unit tests.
RETRY_STEPS = [0.2, 1.0, 5.0]


def rabbit_overrides(url: str) -> dict[str, Any]:
    return {
        "broker_url": url,
        "rabbitmq_prefix": unique_prefix(),
        "rabbitmq_retry_steps": RETRY_STEPS,
    }


async def remove_rabbit(overrides: dict[str, Any]) -> None:
    url, prefix = overrides["broker_url"], overrides["rabbitmq_prefix"]
    await delete_topology(url, prefix, RETRY_STEPS)


def kafka_overrides(url: str, partitions: int = 4) -> dict[str, Any]:
    config = kafka_test_config(url, RETRY_STEPS, partitions)
    return {
        "broker_url": url,
        "kafka_topic": config.topic,
        "kafka_group": config.group,
        "kafka_partitions": partitions,
        "kafka_retry_steps": RETRY_STEPS,
    }


async def remove_kafka(overrides: dict[str, Any]) -> None:
    topic = overrides["kafka_topic"]
    topics = [topic, *(f"{topic}.retry.{i}" for i in range(len(RETRY_STEPS))), f"{topic}.dlt"]
    await delete_topics(overrides["broker_url"].removeprefix("kafka://"), topics)
