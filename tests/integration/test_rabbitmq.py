"""RabbitMQ end to end: relay → quorum queue → workers → SMTP; retry ladder, dead letters."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from regmail import roles
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from tests.support.mailstate import none_unsent
from tests.support.processes import start_regmail
from tests.support.rabbitmq import die_holding_a_message, queue_depth
from tests.support.service import make_settings, running_service
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port


async def test_4xx_walks_the_retry_ladder_then_delivers_once(
    tmp_path: Path, smtp_sink: SmtpSink, rabbit: dict[str, object]
) -> None:
    smtp_sink.start("-r", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, **rabbit)
    async with running_service(settings) as svc:
        await svc.register("ladder@example.com")
        await svc.wait_for_rows(lambda r: r.status == "retrying" and r.attempts >= 3)
        smtp_sink.restart()
        [row] = await svc.wait_for_rows(lambda r: r.status == "sent")
    assert smtp_sink.message_ids() == {f"<{row.id}@regmail.localhost>": 1}
    url, prefix = str(rabbit["broker_url"]), str(rabbit["rabbitmq_prefix"])
    assert await queue_depth(url, f"{prefix}.dead") == 0


async def test_5xx_goes_to_the_dead_letter_queue_and_the_row_is_dead(
    tmp_path: Path, smtp_sink: SmtpSink, rabbit: dict[str, object]
) -> None:
    smtp_sink.start("-f", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, **rabbit)
    url, prefix = str(rabbit["broker_url"]), str(rabbit["rabbitmq_prefix"])
    async with running_service(settings) as svc:
        await svc.register("hard-bounce@example.com")
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead")

        async def parked() -> bool:
            return await queue_depth(url, f"{prefix}.dead") == 1

        await eventually(parked)
    assert (row.dead_reason, row.attempts) == ("rejected", 1)


async def test_three_workers_deliver_5000_sign_ups_once_each(
    tmp_path: Path, smtp_sink: SmtpSink, rabbit: dict[str, object], postgres_url: str
) -> None:
    smtp_sink.start()
    http_port = free_port()
    settings = make_settings(
        tmp_path, smtp_url=smtp_sink.url, database_url=postgres_url, port=http_port, **rabbit
    )
    engine = create_engine(settings)
    await migrate(engine)
    await engine.dispose()
    log = tmp_path / "regmail.log"
    processes = [start_regmail(settings, "serve", log=log, cwd=tmp_path)] + [
        start_regmail(settings, "worker", log=log, cwd=tmp_path) for _ in range(3)
    ]
    started = time.monotonic()
    try:
        await asyncio.to_thread(wait_for_port, http_port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as http:

            async def sign_up(batch: range) -> None:
                for i in batch:
                    r = await http.post(
                        "/v1/registrations",
                        json={"email": f"user{i}@example.com", "password": "correct horse"},
                    )
                    assert r.status_code == 202, r.text

            await asyncio.gather(*(sign_up(range(n, 5000, 8)) for n in range(8)))

        await eventually(lambda: none_unsent(settings), timeout=300, interval=0.5)
        elapsed = time.monotonic() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.to_thread(process.wait, 60)
    counts = smtp_sink.message_ids()
    assert len(counts) == 5000
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1][:5]
    print(f"5000 sign-ups → 5000 mails via RabbitMQ in {elapsed:.1f} s")


async def test_a_message_at_the_delivery_limit_marks_its_row_dead(
    tmp_path: Path, smtp_sink: SmtpSink, rabbit: dict[str, object]
) -> None:
    """Workers died holding the message as often as RabbitMQ allows: the last delivery it
    makes does not try again (it would be dropped into the dead queue, its mail left
    `queued` forever) but marks the mail dead, and parks the message for operators."""
    smtp_sink.start()
    limit = 2
    settings = make_settings(
        tmp_path, smtp_url=smtp_sink.url, rabbitmq_delivery_limit=limit, **rabbit
    )
    url, prefix = str(rabbit["broker_url"]), str(rabbit["rabbitmq_prefix"])
    async with running_service(settings, worker=False) as svc:
        await svc.register("poison@example.com")
        for _ in range(limit):
            await die_holding_a_message(svc.runtime.broker)
        async with roles.running(svc.runtime, {roles.Role.WORKER}):
            [row] = await svc.wait_for_rows(lambda r: r.status == "dead")

            async def parked() -> bool:
                return await queue_depth(url, f"{prefix}.dead") == 1

            await eventually(parked)
    assert (row.dead_reason, row.attempts) == ("delivery-limit", 0)
    assert smtp_sink.message_ids() == {}
