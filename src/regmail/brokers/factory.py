"""Which broker REGMAIL_BROKER_URL names."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
from regmail.settings import Settings


def make_broker(settings: Settings, engine: AsyncEngine) -> Broker:
    if settings.broker_url == "db":
        return DbBroker(engine, settings.lease_seconds, settings.worker_poll_seconds)
    raise ValueError(
        f"REGMAIL_BROKER_URL={settings.broker_url!r} is not supported by this version (use `db`)"
    )
