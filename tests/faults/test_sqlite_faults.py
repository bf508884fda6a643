"""SQLite locked by another writer, or unable to grow: a clean 503, no corruption, and every
202 still has its mail."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from tests.faults import report
from tests.faults.harness import Fleet, SignUpLoad, outcome
from tests.support.mailstate import none_unsent
from tests.support.service import make_settings, running_service
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port

PER_PHASE = 50


async def test_locked_database_is_a_clean_503_then_works(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with running_service(settings, worker=False) as svc:
        await svc.register("before@example.com")
        # Patient as a program would be: the service may be writing (slowly, on a busy
        # machine) when it asks for the lock.
        other = sqlite3.connect(tmp_path / "regmail.db", isolation_level=None, timeout=30)
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        try:
            started = time.monotonic()
            locked = await svc.client.post(
                "/v1/registrations", json={"email": "during@example.com", "password": "pw pw pw pw"}
            )
            waited = time.monotonic() - started
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert locked.status_code == 503
        assert locked.headers["content-type"] == "application/problem+json"
        assert "retry-after" in locked.headers
        assert waited < 15, "the busy timeout bounds the wait"
        await svc.register("after@example.com")
        recipients = {row.recipient for row in await svc.mail_rows()}
    assert recipients == {"before@example.com", "after@example.com"}
    assert _integrity(tmp_path / "regmail.db") == "ok"


async def test_full_disk_is_a_clean_503_and_nothing_is_lost(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start()
    port = free_port()
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, port=port)
    fleet = Fleet(settings, tmp_path)
    await fleet.migrate()
    database = tmp_path / "regmail.db"
    # The API may not grow any file past 1 MiB more than the database has now: its
    # write-ahead log soon hits that, and every write fails as on a full disk. (A file-size
    # limit needs no privileges, unlike mounting a small filesystem.)
    limit = database.stat().st_size + 1024 * 1024
    load = SignUpLoad(f"http://127.0.0.1:{port}")
    try:
        api = fleet.start("serve", max_file_bytes=limit)
        fleet.start("worker")
        await asyncio.to_thread(wait_for_port, port, 30)
        load.start()
        try:
            await eventually(load.reached(503, "before", PER_PHASE), timeout=120)
            load.phase = "after"  # room again: the API restarted without the limit
            api.terminate()
            await asyncio.to_thread(api.wait, 30)
            fleet.processes.remove(api)
            fleet.start("serve")
            await eventually(load.reached(202, "after", PER_PHASE), timeout=60)
        finally:
            await load.stop()
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.2)
    finally:
        await fleet.stop()
    statuses = load.statuses()
    assert set(statuses) <= {202, 503, 0}, statuses  # 0: cut off by the restart
    assert all(
        a.content_type == "application/problem+json" for a in load.answers if a.status == 503
    )
    assert _integrity(database) == "ok"
    # The operator sees why. SQLite reports EFBIG as an I/O error; a really full disk
    # (ENOSPC) reads "database or disk is full". Both take this same path to the 503.
    assert '"reason": "disk I/O error"' in fleet.log.read_text()
    result = await outcome(settings, smtp_sink.message_ids(), accepted_recipients=load.accepted())
    result.check(duplicate_bound=0)
    report.record(
        "disk full, db-sqlite",
        result,
        sign_ups=len(load.accepted()),
        note=f"{statuses[202]} answers 202 and {statuses[503]} 503 (disk full), none other; "
        "integrity_check ok",
    )


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
