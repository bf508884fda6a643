"""The SMTP server misbehaving for a while (Postfix's smtp-sink): every mail is retried
until the server is back and then delivered once; 5xx is dead at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from regmail.db.engine import create_engine
from regmail.db.tables import mails
from regmail.mails.status import MailStatus
from tests.faults import report
from tests.faults.harness import Fleet, outcome
from tests.support.mailstate import count_mails, none_unsent, queue_mails
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually

MAILS = 500
# Backoff short enough that recovery is quick (1, 2, 4, then every 5 s); the attempt
# budget is sized to the fault's length below.
RETRIES = {"retry_base_seconds": 1.0, "retry_max_delay_seconds": 5.0}

FAULTS = {
    "4xx at RCPT": ("-r", "RCPT"),
    "4xx at DATA": ("-r", "DATA"),
    "hang-up mid-DATA": ("-q", "."),  # takes the message, then drops the line unanswered
    "connection refused": None,  # nothing listens
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_transient_fault_for_a_while_then_all_delivered_once(
    tmp_path: Path, smtp_sink: SmtpSink, long_mode: bool, fault: str
) -> None:
    fault_seconds = 300 if long_mode else 30  # the scenario's length, not a synchronisation
    options = FAULTS[fault]
    if options is not None:
        smtp_sink.start(*options)
    attempts = fault_seconds // 5 + 10
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        worker_concurrency=20,
        retry_max_attempts=attempts,
        smtp_pause_max_seconds=10,  # delivery as a whole waits at most this between tries
        **RETRIES,
    )
    ids = await queue_mails(settings, MAILS)
    fleet = Fleet(settings, tmp_path)
    try:
        fleet.start("worker")
        started = time.monotonic()
        # A fault of the mail's conversation is met by every mail; a provider that refuses
        # connections pauses delivery as a whole, and the mails wait without an attempt.
        met = _retrying(settings, 1 if options is None else MAILS)
        await eventually(met, timeout=60)
        await asyncio.sleep(max(0.0, fault_seconds - (time.monotonic() - started)))
        smtp_sink.restart()  # the server is well again; a fresh dump counts only from here
        back_at = time.monotonic()
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.2)
        recovery = time.monotonic() - back_at
    finally:
        await fleet.stop()
    result = await outcome(settings, smtp_sink.message_ids(), expected_ids=ids)
    result.check(duplicate_bound=0)
    report.record(
        f"SMTP {fault} for {fault_seconds} s",
        result,
        recovery_seconds=recovery,
        note="recovery: server well → all sent"
        + ("; delivery paused as a whole, pauses up to 10 s" if options is None else ""),
    )


async def test_slow_server_two_seconds_per_mail(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start("-w", "2")
    count = 100
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, worker_concurrency=20)
    ids = await queue_mails(settings, count)
    fleet = Fleet(settings, tmp_path)
    try:
        fleet.start("worker")
        started = time.monotonic()
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.2)
        elapsed = time.monotonic() - started
    finally:
        await fleet.stop()
    result = await outcome(settings, smtp_sink.message_ids(), expected_ids=ids)
    result.check(duplicate_bound=0)
    report.record(
        "SMTP 2 s per mail",
        result,
        note=f"{count} mails in {elapsed:.1f} s at concurrency 20 (slow is not a fault)",
    )


async def test_5xx_makes_every_mail_dead_after_one_attempt(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start("-f", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url)
    await queue_mails(settings, MAILS)
    fleet = Fleet(settings, tmp_path)
    try:
        fleet.start("worker")
        await eventually(_all_dead(settings), timeout=60, interval=0.2)
    finally:
        await fleet.stop()
    result = await outcome(settings, smtp_sink.message_ids())
    result.check(duplicate_bound=0)
    assert (result.dead, result.sent) == (MAILS, 0)
    engine = create_engine(settings)
    async with engine.connect() as conn:
        query = select(mails.c.dead_reason, mails.c.attempts).distinct()
        outcomes = (await conn.execute(query)).all()
    await engine.dispose()
    assert [tuple(o) for o in outcomes] == [("rejected", 1)]
    report.record("SMTP 5xx at RCPT", result, note="all dead after 1 attempt, reason rejected")


def _retrying(settings, n):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return await count_mails(settings, MailStatus.RETRYING) >= n

    return probe


def _all_dead(settings):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return await count_mails(settings, MailStatus.DEAD) == MAILS

    return probe
