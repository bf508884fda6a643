"""The API and the relay SIGKILLed under load: every 202 has its mail, nothing published twice
reaches anyone twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults import report
from tests.faults.harness import Fleet, SignUpLoad, deployment, outcome
from tests.support.mailstate import count_outbox, none_unsent, queue_mails
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port


async def test_api_killed_under_load_every_202_has_its_mail(
    tmp_path: Path, smtp_sink: SmtpSink, long_mode: bool
) -> None:
    per_phase = 1000 if long_mode else 100
    smtp_sink.start()
    port = free_port()
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, port=port)
    fleet = Fleet(settings, tmp_path)
    await fleet.migrate()
    load = SignUpLoad(f"http://127.0.0.1:{port}", clients=8)
    try:
        api = fleet.start("serve")
        fleet.start("worker")
        wait_for_port(port, 30)
        load.start()
        try:
            await eventually(load.reached(202, "before", per_phase), timeout=120)
            await fleet.kill(api)  # requests in flight get no answer; none was acknowledged
            killed_at = time.monotonic()
            load.phase = "after"
            fleet.start("serve")
            await eventually(load.reached(202, "after", 1), timeout=60)
            recovery = time.monotonic() - killed_at
            await eventually(load.reached(202, "after", per_phase), timeout=120)
        finally:
            await load.stop()
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.2)
    finally:
        await fleet.stop()
    assert set(load.statuses()) <= {202, 0}, load.statuses()
    accepted = load.accepted()
    result = await outcome(settings, smtp_sink.message_ids(), accepted_recipients=accepted)
    result.check(duplicate_bound=0)
    report.record(
        "API SIGKILL under load, db-sqlite",
        result,
        sign_ups=len(accepted),
        recovery_seconds=recovery,
        note=f"{load.count(0)} requests cut off unanswered; recovery: kill → next 202",
    )


@pytest.mark.parametrize("kind", ["rabbitmq", "kafka"])
async def test_relay_killed_while_publishing_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_sink: SmtpSink, long_mode: bool, kind: str
) -> None:
    count, kills = (50_000, 10) if long_mode else (5_000, 2)
    smtp_sink.start()
    async with deployment(request, kind) as overrides:
        settings = make_settings(tmp_path, smtp_url=smtp_sink.url, **overrides)
        ids = await queue_mails(settings, count)
        fleet = Fleet(settings, tmp_path)
        await fleet.migrate()
        try:
            fleet.start("worker")
            for k in range(kills):
                relay = fleet.start("relay")
                left = count * (kills - k) // (kills + 1)  # kill when this much is unpublished
                await eventually(_outbox_at_most(settings, left), timeout=120, interval=0.02)
                await fleet.kill(relay)
                assert await count_outbox(settings) > 0, "the kill must land mid-publish"
            killed_at = time.monotonic()
            fleet.start("relay")
            await eventually(lambda: none_unsent(settings), timeout=300, interval=0.2)
            recovery = time.monotonic() - killed_at
        finally:
            await fleet.stop()
        result = await outcome(settings, smtp_sink.message_ids(), expected_ids=ids)
    # A row published but not yet deleted is published again; the worker sees the mail is
    # already sent (or being sent) and drops the copy, so nobody gets it twice.
    result.check(duplicate_bound=0)
    report.record(
        f"relay SIGKILL x{kills} while publishing, {kind}",
        result,
        recovery_seconds=recovery,
        note="recovery: last kill → all sent",
    )


def _outbox_at_most(settings, n):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return await count_outbox(settings) <= n

    return probe
