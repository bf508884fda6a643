"""Kafka end to end: relay → topics → a consumer group of workers → SMTP."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from regmail.mails.status import MailStatus
from tests.support.brokers import kafka_overrides, remove_kafka
from tests.support.mailstate import count_mails, none_unsent, queue_mails
from tests.support.processes import start_regmail
from tests.support.servers import ServiceServer
from tests.support.service import make_settings, running_service
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually

CONCURRENCY = 20


async def records_in(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        found: list[Any] = []

        async def probe() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            found.extend(r for records in batches.values() for r in records)
            return len(found) >= expected

        await eventually(probe, timeout=30)
        return found
    finally:
        await consumer.stop()


async def test_4xx_goes_through_retry_topics_then_delivers_once(
    tmp_path: Path, smtp_sink: SmtpSink, kafka: dict[str, Any]
) -> None:
    smtp_sink.start("-r", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, **kafka)
    async with running_service(settings) as svc:
        await svc.register("retry-topics@example.com")
        await svc.wait_for_rows(lambda r: r.status == "retrying" and r.attempts >= 3, 60)
        smtp_sink.restart()
        [row] = await svc.wait_for_rows(lambda r: r.status == "sent", 60)
    assert smtp_sink.message_ids() == {f"<{row.id}@regmail.localhost>": 1}


async def test_5xx_goes_to_the_dead_letter_topic_and_the_row_is_dead(
    tmp_path: Path, smtp_sink: SmtpSink, kafka: dict[str, Any]
) -> None:
    smtp_sink.start("-f", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, **kafka)
    async with running_service(settings) as svc:
        await svc.register("dlt@example.com")
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead", 60)
    assert (row.dead_reason, row.attempts) == ("rejected", 1)
    bootstrap = str(kafka["broker_url"]).removeprefix("kafka://")
    [record] = await records_in(bootstrap, f"{kafka['kafka_topic']}.dlt", 1)
    assert row.id.encode() in record.value
    assert dict(record.headers)["x-regmail-reason"] == b"rejected"


async def test_one_partition_still_sends_concurrently(
    tmp_path: Path, smtp_sink: SmtpSink, kafka_server: ServiceServer
) -> None:
    smtp_sink.start("-w", "2")  # 2 s per mail
    overrides = kafka_overrides(kafka_server.url, partitions=1)
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, **overrides)
    async with running_service(settings, worker=True) as svc:
        for i in range(10):
            await svc.register(f"slow{i}@example.com")

        async def several_in_flight() -> bool:
            return await count_mails(settings, MailStatus.SENDING) > 1

        await eventually(several_in_flight, timeout=30)
        await svc.wait_for_rows(lambda r: r.status == "sent", 60)
    await remove_kafka(overrides)


async def test_workers_join_and_one_is_killed_mid_run_nothing_lost(
    tmp_path: Path, smtp_sink: SmtpSink, kafka: dict[str, Any], postgres_url: str
) -> None:
    smtp_sink.start()
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        database_url=postgres_url,
        worker_concurrency=CONCURRENCY,
        lease_seconds=5,
        smtp_timeout=4,
        **kafka,
    )
    ids = await queue_mails(settings, 5000)

    log = tmp_path / "regmail.log"
    migrate_topics = start_regmail(settings, "migrate", log=log, cwd=tmp_path)
    assert await asyncio.to_thread(migrate_topics.wait, 60) == 0, log.read_text()
    relay = start_regmail(settings, "relay", log=log, cwd=tmp_path)
    workers = [start_regmail(settings, "worker", log=log, cwd=tmp_path) for _ in range(2)]
    started = time.monotonic()
    try:

        async def delivered(n: int) -> Any:
            async def probe() -> bool:
                return sum(smtp_sink.message_ids().values()) >= n

            return probe

        await eventually(await delivered(500), timeout=120)
        workers.append(start_regmail(settings, "worker", log=log, cwd=tmp_path))  # joins
        await eventually(await delivered(1500), timeout=120)
        workers[0].send_signal(signal.SIGKILL)  # dies mid-run, in flight and uncommitted
        assert await asyncio.to_thread(workers[0].wait, 30) == -signal.SIGKILL

        await eventually(lambda: none_unsent(settings), timeout=300, interval=0.5)
        elapsed = time.monotonic() - started
    finally:
        for process in [relay, *workers[1:]]:
            process.send_signal(signal.SIGTERM)
        for process in [relay, *workers[1:]]:
            await asyncio.to_thread(process.wait, 60)
    counts = smtp_sink.message_ids()
    assert set(counts) == {f"<{i}@regmail.localhost>" for i in ids}, "a mail was lost"
    duplicates = sum(counts.values()) - len(counts)
    # Documented bound: the mails in flight in the killed worker (its concurrency).
    assert duplicates <= CONCURRENCY, duplicates
    print(f"5000 mails via Kafka in {elapsed:.1f} s, duplicates after SIGKILL: {duplicates}")
