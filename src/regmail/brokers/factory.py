"""Which broker REGMAIL_BROKER_URL names."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
from regmail.brokers.kafka import KafkaBroker, KafkaConfig, bootstrap_from_url
from regmail.brokers.rabbitmq import RabbitBroker
from regmail.settings import Settings


def make_broker(settings: Settings, outbox: DbBroker) -> Broker:
    """The broker workers consume from; with `db` it is the outbox itself."""
    url = settings.broker_url.get_secret_value()
    if url == "db":
        return outbox
    if url.startswith(("amqp://", "amqps://")):
        return RabbitBroker(
            url,
            settings.rabbitmq_prefix,
            settings.rabbitmq_retry_steps,
            settings.rabbitmq_delivery_limit,
        )
    if url.startswith("kafka://"):
        return KafkaBroker(kafka_config(settings, url))
    raise ValueError("REGMAIL_BROKER_URL must be `db`, amqp://… (amqps:// for TLS) or kafka://…")


def kafka_config(settings: Settings, url: str) -> KafkaConfig:
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_sasl_mechanism:
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return KafkaConfig(
        bootstrap=bootstrap_from_url(url),
        topic=settings.kafka_topic,
        group=settings.kafka_group,
        partitions=settings.kafka_partitions,
        replication=settings.kafka_replication,
        retry_steps=settings.kafka_retry_steps,
        client_options=options,
    )
