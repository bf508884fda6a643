"""The raw activation token is in no database row and no broker message, only in the mail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aio_pika
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from regmail.mail.sink import Mailbox
from regmail.settings import Settings
from tests.support.mailstate import count_outbox
from tests.support.service import make_settings, running_service
from tests.support.waiting import eventually

TABLES = ("regmail_accounts", "regmail_account_tokens", "regmail_mails", "regmail_outbox")


async def test_no_token_in_postgres_or_rabbitmq(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], postgres_url: str, rabbit: dict[str, Any]
) -> None:
    settings = make_settings(
        tmp_path, smtp_url=aiosmtpd_server[0], database_url=postgres_url, **rabbit
    )
    await _check_no_token_at_rest(settings, aiosmtpd_server[1], "rabbitmq")


async def test_no_token_in_postgres_or_kafka(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], postgres_url: str, kafka: dict[str, Any]
) -> None:
    settings = make_settings(
        tmp_path, smtp_url=aiosmtpd_server[0], database_url=postgres_url, **kafka
    )
    await _check_no_token_at_rest(settings, aiosmtpd_server[1], "kafka")


async def _check_no_token_at_rest(settings: Settings, mailbox: Mailbox, broker: str) -> None:
    async with running_service(settings, worker=False) as svc:
        await svc.register("secret@example.com")
        [row] = await svc.mail_rows()

        async def relayed() -> bool:
            return await count_outbox(settings) == 0

        await eventually(relayed)
        stored = await _database_text(svc.runtime.engine)
        messages = await _broker_messages(settings, broker, 1)
    assert row.id in stored and "secret@example.com" in stored  # the reads see the data
    assert all(row.id.encode() in m for m in messages)

    async with running_service(settings, worker=True):
        [mail] = await eventually(lambda: _mails(mailbox))
    token = mail.links[0].split("token=")[1]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert token not in stored
    assert not any(token.encode() in m for m in messages)


async def _mails(mailbox: Mailbox) -> list[Any]:
    return mailbox.all()


async def _database_text(engine: Any) -> str:
    """Every row of every regmail table, as PostgreSQL prints it."""
    async with engine.connect() as conn:
        rows = [
            value
            for table in TABLES
            for value in (await conn.execute(text(f"SELECT t::text FROM {table} t"))).scalars()
        ]
    return "\n".join(rows)


async def _broker_messages(settings: Settings, broker: str, count: int) -> list[bytes]:
    if broker == "rabbitmq":
        return await _rabbit_messages(settings, count)
    return await _kafka_messages(settings, count)


async def _rabbit_messages(settings: Settings, count: int) -> list[bytes]:
    connection = await aio_pika.connect(settings.broker_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{settings.rabbitmq_prefix}.mail", passive=True)
        bodies = []
        while len(bodies) < count:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            bodies.append(message.body + repr(message.headers).encode())
            await message.reject(requeue=True)
        return bodies


async def _kafka_messages(settings: Settings, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        settings.kafka_topic,
        bootstrap_servers=settings.broker_url.get_secret_value().removeprefix("kafka://"),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        found: list[bytes] = []

        async def probe() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found.extend((r.value or b"") + repr(r.headers).encode() for r in records)
            return len(found) >= count

        await eventually(probe, timeout=30)
        return found
    finally:
        await consumer.stop()
