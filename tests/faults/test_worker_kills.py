"""Workers SIGKILLed at random moments while they deliver: nothing lost, few duplicates."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.faults import report
from tests.faults.harness import DEPLOYMENTS, Fleet, deployment, outcome
from tests.support.mailstate import none_unsent, queue_mails
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually

CONCURRENCY = 20
WORKERS = 2


@pytest.mark.parametrize("kind", DEPLOYMENTS)
async def test_workers_killed_five_times_lose_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_sink: SmtpSink, long_mode: bool, kind: str
) -> None:
    count, kills = (50_000, 20) if long_mode else (5_000, 5)
    smtp_sink.start()
    async with deployment(request, kind) as overrides:
        settings = make_settings(
            tmp_path,
            smtp_url=smtp_sink.url,
            worker_concurrency=CONCURRENCY,
            lease_seconds=3,  # a killed worker's claims come back this soon
            smtp_timeout=2,  # shorter than the lease, as the settings require
            **overrides,
        )
        ids = await queue_mails(settings, count)
        fleet = Fleet(settings, tmp_path)
        await fleet.migrate()
        try:
            if kind in ("rabbitmq", "kafka"):
                fleet.start("relay")
            workers = [fleet.start("worker") for _ in range(WORKERS)]
            moments = sorted(random.sample(range(count // 10, count * 9 // 10), kills))
            for moment in moments:
                await eventually(_delivered(smtp_sink, moment), timeout=180)
                victim = random.choice(workers)
                await fleet.kill(victim)
                assert smtp_sink.received() < count, "the kill must land mid-run"
                workers[workers.index(victim)] = fleet.start("worker")
            last_kill = time.monotonic()
            await eventually(lambda: none_unsent(settings), timeout=300, interval=0.2)
            recovery = time.monotonic() - last_kill
        finally:
            await fleet.stop()
        result = await outcome(settings, smtp_sink.message_ids(), expected_ids=ids)
    # A kill can repeat only what the victim had handed to SMTP but not yet recorded.
    result.check(duplicate_bound=kills * CONCURRENCY)
    report.record(
        f"worker SIGKILL x{kills}, {kind}",
        result,
        recovery_seconds=recovery,
        note="recovery: last kill → all sent",
    )


def _delivered(sink: SmtpSink, n: int):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return sink.received() >= n

    return probe
