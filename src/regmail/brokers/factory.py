"""Which broker REGMAIL_BROKER_URL names."""

from __future__ import annotations

from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
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
    raise ValueError("REGMAIL_BROKER_URL must be `db` or amqp://… (amqps:// for TLS)")
