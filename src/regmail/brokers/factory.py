"""Which broker REGMAIL_BROKER_URL names: the one place that builds a concrete broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
from regmail.db.group_commit import GroupCommit
from regmail.extras import load
from regmail.mails.outbox import Wakeup
from regmail.settings import Settings

if TYPE_CHECKING:
    from regmail.brokers.kafka import KafkaConfig


def relays(settings: Settings) -> bool:
    """Whether outbox rows must be relayed to a broker of their own (not `db`)."""
    return settings.broker_url.get_secret_value() != "db"


def make_broker(
    settings: Settings, engine: AsyncEngine, writes: GroupCommit, wakeup: Wakeup
) -> Broker:
    """The broker workers consume from; with `db` it is the outbox table."""
    url = settings.broker_url.get_secret_value()
    if url == "db":
        # The lease covers an SMTP send.
        return _outbox(settings, engine, writes, wakeup, settings.lease_seconds)
    if url.startswith(("amqp://", "amqps://")):
        load("aio_pika", "rabbitmq")
        from regmail.brokers.rabbitmq import RabbitBroker

        return RabbitBroker(
            url,
            settings.rabbitmq_prefix,
            settings.rabbitmq_retry_steps,
            settings.rabbitmq_delivery_limit,
            settings.handler_failed_delay_seconds,
            settings.events_exchange if settings.events_to_broker else None,
            settings.rabbitmq_quorum_size,
        )
    if url.startswith("kafka://"):
        from regmail.brokers.kafka import KafkaBroker

        return KafkaBroker(kafka_config(settings, url))
    raise ValueError("REGMAIL_BROKER_URL must be `db`, amqp://… (amqps:// for TLS) or kafka://…")


def make_outbox(
    settings: Settings, engine: AsyncEngine, writes: GroupCommit, wakeup: Wakeup
) -> Broker:
    """The outbox table as the relay consumes it: the lease covers one publish."""
    return _outbox(settings, engine, writes, wakeup, settings.relay_lease_seconds)


def _outbox(
    settings: Settings, engine: AsyncEngine, writes: GroupCommit, wakeup: Wakeup, lease: float
) -> DbBroker:
    return DbBroker(
        engine,
        lease,
        settings.worker_poll_seconds,
        writes,
        wakeup,
        settings.handler_failed_delay_seconds,
    )


def kafka_config(settings: Settings, url: str) -> KafkaConfig:
    helpers = load("aiokafka.helpers", "kafka")
    from regmail.brokers.kafka import KafkaConfig, bootstrap_from_url

    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = helpers.create_ssl_context(cafile=settings.kafka_ssl_cafile)
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
        min_insync_replicas=_min_insync(settings),
        retry_steps=settings.kafka_retry_steps,
        client_options=options,
        failed_delay=settings.handler_failed_delay_seconds,
        events_topic=settings.events_topic if settings.events_to_broker else None,
    )


def _min_insync(settings: Settings) -> int | None:
    if settings.kafka_min_insync_replicas is not None:
        return settings.kafka_min_insync_replicas
    return 2 if settings.kafka_replication >= 3 else None
