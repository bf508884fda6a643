"""A worker told to stop (SIGTERM) mid-delivery: it finishes what it has in flight and
leaves the rest; with a grace period too short for that, it stops anyway, as a crash."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from regmail.mails.status import PENDING, MailStatus
from tests.faults import report
from tests.faults.harness import Fleet, outcome
from tests.support.mailstate import count_mails, none_unsent, queue_mails
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually

MAILS = 200
CONCURRENCY = 20


@pytest.mark.parametrize(
    ("seconds_per_mail", "grace"), [(1, 30.0), (5, 1.0)], ids=["within-grace", "grace-expires"]
)
async def test_sigterm_mid_delivery_loses_nothing(
    tmp_path: Path, smtp_sink: SmtpSink, seconds_per_mail: int, grace: float
) -> None:
    smtp_sink.start("-w", str(seconds_per_mail))
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        worker_concurrency=CONCURRENCY,
        worker_grace_seconds=grace,
        smtp_timeout=seconds_per_mail + 2,
        # Longer than a send, so only the stopped worker's cut-off mails come back: with a
        # shorter one the next worker's own sends still in flight come due and go twice.
        lease_seconds=seconds_per_mail + 3,
    )
    ids = await queue_mails(settings, MAILS)
    fleet = Fleet(settings, tmp_path)
    try:
        first = fleet.start("worker")
        await eventually(_sending_at_least(settings, CONCURRENCY), timeout=60)
        first.terminate()
        stopping = time.monotonic()
        assert await asyncio.to_thread(first.wait, grace + 15) == 0
        stop_seconds = time.monotonic() - stopping
        fleet.processes.remove(first)
        left = await count_mails(settings, *PENDING)
        assert left > 0, "the stop must land mid-delivery"
        if grace >= seconds_per_mail * 2:
            assert await count_mails(settings, MailStatus.SENDING) == 0, "in-flight sends finished"
        fleet.start("worker")  # another worker takes the rest
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.2)
    finally:
        await fleet.stop()
    result = await outcome(settings, smtp_sink.message_ids(), expected_ids=ids)
    expired = "worker_grace_expired" in fleet.log.read_text()
    assert expired == (grace < seconds_per_mail)
    # Within the grace period nothing is cut off, so nothing can go twice.
    result.check(duplicate_bound=CONCURRENCY if expired else 0)
    report.record(
        f"worker SIGTERM, {seconds_per_mail} s per mail, grace {grace:g} s",
        result,
        recovery_seconds=stop_seconds,
        note=f"{left} mails left for the next worker; recovery: SIGTERM → process exited",
    )


def _sending_at_least(settings, n):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return await count_mails(settings, MailStatus.SENDING) >= n

    return probe
