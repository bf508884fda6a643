"""PostgreSQL at work: many worker processes, and LISTEN/NOTIFY waking idle workers."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
from sqlalchemy import select

from regmail.brokers.db import DbBroker
from regmail.clock import utcnow
from regmail.db.engine import asyncpg_connect_args, create_engine
from regmail.db.migrate import migrate
from regmail.db.tables import mails, outbox, suppressions
from regmail.mails.kinds import BUILTIN_KINDS, Kinds
from regmail.mails.outbox import CHANNEL, insert_rows
from regmail.mails.queue import MailQueue, NewMail
from regmail.mails.sealing import Sealer
from regmail.settings import Settings
from tests.support.mailstate import none_unsent, queue_mails
from tests.support.processes import start_regmail
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually
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


async def test_queued_rows_notify_at_commit_and_never_on_rollback(postgres_url: str) -> None:
    """One row (its NOTIFY in the INSERT's own statement) and several (a NOTIFY after)."""
    engine = create_engine(Settings(_env_file=None, database_url=postgres_url))  # type: ignore[call-arg]
    await migrate(engine)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(**asyncpg_connect_args(engine))
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[2]))
    try:
        for rows in ([("m-1", "k")], [("m-2", "k"), ("m-3", "k")]):
            async with engine.connect() as conn:
                await insert_rows(conn, rows, utcnow())
                await conn.rollback()
            async with engine.begin() as conn:
                await insert_rows(conn, rows, utcnow())
                assert heard.empty()  # not before the commit
            assert await asyncio.wait_for(heard.get(), 10) == CHANNEL
            assert heard.empty()  # once a commit, and none for the rolled-back rows
        async with engine.connect() as conn:
            ids = (await conn.execute(select(outbox.c.mail_id))).scalars().all()
        assert sorted(ids) == ["m-1", "m-2", "m-3"]
    finally:
        await listener.close()
        await engine.dispose()


async def test_a_queued_mail_notifies_at_commit_and_a_suppressed_one_never(
    postgres_url: str, tmp_path: Path
) -> None:
    """A mail, its outbox row and the NOTIFY are one statement (mails/queue.py): written and
    heard together at the commit; nothing of either for a suppressed recipient or a rollback."""
    settings = make_settings(tmp_path, database_url=postgres_url)
    engine = create_engine(settings)
    await migrate(engine)
    queue = MailQueue(Kinds.load(*BUILTIN_KINDS), Sealer.from_settings(settings))
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(**asyncpg_connect_args(engine))
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[2]))
    ghost = NewMail("activation", "Ghost@example.com", "en", {"token": "t"})
    alive = NewMail("activation", "alive@example.com", "en", {"token": "t"})
    try:
        async with engine.begin() as conn:
            await conn.execute(
                suppressions.insert().values(
                    address="ghost@example.com", reason="550", created_at=utcnow()
                )
            )
            assert await queue.enqueue(conn, ghost, utcnow()) is None
        async with engine.connect() as conn:
            assert await queue.enqueue(conn, alive, utcnow()) is not None
            await conn.rollback()
        async with engine.begin() as conn:
            mail_id = await queue.enqueue(conn, alive, utcnow())
            assert heard.empty()  # not before the commit
        assert await asyncio.wait_for(heard.get(), 10) == CHANNEL
        assert heard.empty()
        async with engine.connect() as conn:
            queued = (await conn.execute(select(outbox.c.mail_id, outbox.c.key))).all()
            written = (await conn.execute(select(mails.c.id))).scalars().all()
        assert [tuple(row) for row in queued] == [(mail_id, "alive@example.com")]
        assert written == [mail_id]
    finally:
        await listener.close()
        await engine.dispose()
