"""PostgreSQL at work: many worker processes, and the database restarted under load."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

from regmail.brokers.db import DbBroker
from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.db.tables import mails
from regmail.settings import Settings
from tests.support.mailstate import none_unsent, queue_mails
from tests.support.processes import start_regmail
from tests.support.servers import PostgresServer
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port
from tests.support.wakeup import handled_one_by_one

WORKERS = 4
CONCURRENCY = 20


async def test_four_worker_processes_deliver_5000_mails_exactly_once(
    tmp_path: Path, smtp_sink: SmtpSink, postgres_url: str
) -> None:
    smtp_sink.start()
    settings = make_settings(
        tmp_path, database_url=postgres_url, smtp_url=smtp_sink.url,
        worker_concurrency=CONCURRENCY,
    )  # fmt: skip
    ids = await queue_mails(settings, 5000)

    log = tmp_path / "workers.log"
    workers = [start_regmail(settings, "worker", log=log, cwd=tmp_path) for _ in range(WORKERS)]
    started = time.monotonic()
    try:
        await eventually(lambda: none_unsent(settings), timeout=300, interval=0.5)
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [await asyncio.to_thread(w.wait, 60) for w in workers]
    assert codes == [0] * WORKERS, log.read_text()[-3000:]

    counts = smtp_sink.message_ids()
    assert set(counts) == {f"<{mail_id}@regmail.localhost>" for mail_id in ids}
    assert max(counts.values()) == 1, f"sent twice: {[k for k, v in counts.items() if v > 1]}"
    print(f"5000 mails by {WORKERS} workers in {elapsed:.1f} s ({5000 / elapsed:.0f}/s)")


async def test_database_restart_under_load(
    tmp_path: Path, smtp_sink: SmtpSink, postgres_server: PostgresServer, postgres_url: str
) -> None:
    smtp_sink.start()
    http_port = free_port()
    settings = make_settings(
        tmp_path, database_url=postgres_url, smtp_url=smtp_sink.url, port=http_port
    )
    engine = create_engine(settings)
    await migrate(engine)
    await engine.dispose()
    log = tmp_path / "regmail.log"
    processes = [
        start_regmail(settings, "serve", log=log, cwd=tmp_path),
        start_regmail(settings, "worker", log=log, cwd=tmp_path),
        start_regmail(settings, "worker", log=log, cwd=tmp_path),
    ]
    answers: list[tuple[str, int, str, float]] = []  # email, status, content type, seconds
    phase = {"name": "before"}
    stop = asyncio.Event()

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = 0
        while not stop.is_set():
            email = f"load{n}-{i}-{phase['name']}@example.com"
            started = time.monotonic()
            r = await http.post(
                "/v1/registrations", json={"email": email, "password": "correct horse"}
            )
            answers.append(
                (email, r.status_code, r.headers["content-type"], time.monotonic() - started)
            )
            i += 1

    def count(status: int, name: str) -> int:
        return sum(
            1 for e, s, _, _ in answers if s == status and e.endswith(f"-{name}@example.com")
        )

    try:
        await asyncio.to_thread(wait_for_port, http_port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as http:
            load = [asyncio.create_task(client(n, http)) for n in range(4)]
            try:
                await eventually(_const(lambda: count(202, "before") >= 40), timeout=60)

                phase["name"] = "down"
                await asyncio.to_thread(postgres_server.stop)
                await eventually(_const(lambda: count(503, "down") >= 10), timeout=60)
                ready = await http.get("/readyz")
                assert ready.status_code == 503

                phase["name"] = "after"
                await asyncio.to_thread(postgres_server.start)
                await eventually(_const(lambda: count(202, "after") >= 40), timeout=60)
            finally:
                stop.set()
                await asyncio.gather(*load)

        statuses = Counter(s for _, s, _, _ in answers)
        assert set(statuses) <= {202, 503}, statuses
        assert all(ct == "application/problem+json" for _, s, ct, _ in answers if s == 503)
        assert max(seconds for *_, seconds in answers) < 15, "a request hung"

        accepted = {e for e, s, _, _ in answers if s == 202}

        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.5)
        engine = create_engine(settings)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(mails.c.id, mails.c.recipient))).all()
        await engine.dispose()
        recipients = {r.recipient for r in rows}
        assert accepted <= recipients, (
            f"acknowledged sign-ups without a mail: {accepted - recipients}"
        )
        counts = smtp_sink.message_ids()
        missing = [r.recipient for r in rows if counts[f"<{r.id}@regmail.localhost>"] == 0]
        assert missing == [], "mails recorded as sent never reached the server"
        print(f"answers: {dict(statuses)}; mails: {len(rows)}; duplicates: "
              f"{sum(counts.values()) - len(counts)}")  # fmt: skip
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.to_thread(process.wait, 60)


def _const(condition):
    async def probe() -> bool:
        return condition()

    return probe


async def test_listen_notify_wakes_an_idle_worker_long_before_its_poll(postgres_url: str) -> None:
    settings = Settings(_env_file=None, database_url=postgres_url)  # type: ignore[call-arg]
    engine = create_engine(settings)
    await migrate(engine)
    consumer = DbBroker(engine, lease_seconds=60, poll_seconds=60)
    producer = DbBroker(engine, lease_seconds=60, poll_seconds=60)  # another process's
    try:
        seen = await handled_one_by_one(consumer, producer)
    finally:
        await engine.dispose()
    assert seen == ["mail-0", "mail-1", "mail-2"]
