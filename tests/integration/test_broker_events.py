"""Events to the broker: another service's own consumer (a RabbitMQ queue bound to the
topic exchange, a Kafka consumer group on the events topic) gets every event, in order per
account, with the event's id and type beside the JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiokafka import AIOKafkaConsumer

from regmail.mail.sink import Mailbox
from tests.support.accounts import active_account, mails_with, token_of
from tests.support.kafka import delete_topics
from tests.support.service import Service, make_settings, running_service
from tests.support.waiting import eventually

ACCOUNTS = 3
PER_ACCOUNT = ["account.registered", "account.activated", "account.password_changed"]


async def _changes(svc: Service, mailbox: Mailbox) -> None:
    for n in range(ACCOUNTS):
        email = f"user{n}@example.com"
        await active_account(svc, mailbox, email)
        await svc.client.post("/v1/password-resets", json={"email": email})
        [*_, reset] = await mails_with(mailbox, "Reset your password", count=n + 1)
        r = await svc.client.post(
            "/v1/password-resets/complete",
            json={"token": token_of(reset.links[0]), "password": "another good one"},
        )
        assert r.status_code == 200, r.text
    rows = await svc.wait_for_rows(lambda r: r.status == "sent", timeout=60)
    assert len([r for r in rows if r.channel == "event"]) == ACCOUNTS * len(PER_ACCOUNT)


def _in_order_per_account(events: list[dict[str, Any]]) -> None:
    by_account: dict[str, list[str]] = defaultdict(list)
    for event in events:
        by_account[event["data"]["account_id"]].append(event["type"])
    assert list(by_account.values()) == [PER_ACCOUNT] * ACCOUNTS


@pytest.fixture
async def rabbit_events(rabbit: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    exchange = f"{rabbit['rabbitmq_prefix']}.events"
    yield {**rabbit, "events_to_broker": True, "events_exchange": exchange}
    connection = await aio_pika.connect(rabbit["broker_url"])
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(f"{exchange}.crm")
        await channel.exchange_delete(exchange)


async def test_rabbitmq_consumers_get_every_event_in_order(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], rabbit_events: dict[str, Any]
) -> None:
    url, mailbox = aiosmtpd_server
    exchange_name = rabbit_events["events_exchange"]
    connection = await aio_pika.connect(rabbit_events["broker_url"])
    async with connection:
        # Another service's own queue, bound before the events it wants are published.
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{exchange_name}.crm", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "account.#")
        settings = make_settings(tmp_path, smtp_url=url, **rabbit_events)
        async with running_service(settings) as svc:
            await _changes(svc, mailbox)
            received: list[aio_pika.abc.AbstractIncomingMessage] = []

            async def probe() -> bool:
                message = await queue.get(fail=False, no_ack=True)
                if message is not None:
                    received.append(message)
                return len(received) >= ACCOUNTS * len(PER_ACCOUNT)

            await eventually(probe, timeout=60, interval=0.01)
    events = [json.loads(m.body) for m in received]
    assert [m.routing_key for m in received] == [e["type"] for e in events]
    assert [m.message_id for m in received] == [e["id"] for e in events]
    assert [m.headers["account-id"] for m in received] == [e["data"]["account_id"] for e in events]
    assert {m.delivery_mode for m in received} == {aio_pika.DeliveryMode.PERSISTENT}
    _in_order_per_account(events)


@pytest.fixture
async def kafka_events(kafka: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    topic = f"{kafka['kafka_topic']}.events"
    yield {**kafka, "events_to_broker": True, "events_topic": topic}
    await delete_topics(kafka["broker_url"].removeprefix("kafka://"), [topic])


async def test_kafka_consumers_get_every_event_in_order(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], kafka_events: dict[str, Any]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, **kafka_events)
    async with running_service(settings) as svc:
        await _changes(svc, mailbox)
    consumer = AIOKafkaConsumer(
        kafka_events["events_topic"],
        bootstrap_servers=kafka_events["broker_url"].removeprefix("kafka://"),
        group_id=f"{kafka_events['kafka_group']}.crm",  # another service's own group
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        records: list[Any] = []

        async def probe() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
            return len(records) >= ACCOUNTS * len(PER_ACCOUNT)

        await eventually(probe, timeout=60)
    finally:
        await consumer.stop()
    events = [json.loads(r.value) for r in records]
    assert [r.key.decode() for r in records] == [e["data"]["account_id"] for e in events]
    assert [dict(r.headers)["type"].decode() for r in records] == [e["type"] for e in events]
    assert [dict(r.headers)["id"].decode() for r in records] == [e["id"] for e in events]
    # Kafka orders per partition, and an account's events share one (their key).
    by_partition = sorted(records, key=lambda r: (r.partition, r.offset))
    _in_order_per_account([json.loads(r.value) for r in by_partition])
