"""SMTP faults against Postfix's smtp-sink: retried until accepted, 5xx dead at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from regmail.db.tables import outbox
from tests.support.service import TEST_DEFAULTS, make_settings, running_service
from tests.support.smtp_sink import SmtpSink


@pytest.mark.parametrize(
    ("fault", "reply"),
    [
        (("-r", "RCPT"), "450 4.3.0"),
        (("-r", "DATA"), "450 4.3.0"),
        (("-r", "."), "450 4.3.0"),
        (("-q", "."), "SMTPServerDisconnected"),  # hangs up after the data, without a reply
        (("-Q", "MAIL"), "421"),
    ],
    ids=["4xx-rcpt", "4xx-data", "4xx-end-of-data", "hangup-mid-data", "421-mail"],
)
async def test_transient_faults_are_retried_then_delivered_once(
    tmp_path: Path, smtp_sink: SmtpSink, fault: tuple[str, ...], reply: str
) -> None:
    smtp_sink.start(*fault)
    async with running_service(make_settings(tmp_path, smtp_url=smtp_sink.url)) as svc:
        await svc.register("retry@example.com")
        [row] = await svc.wait_for_rows(lambda r: r.status == "retrying" and r.attempts >= 2)
        assert reply in row.last_reply
        assert row.next_attempt_at is not None

        smtp_sink.restart()  # the server recovers and accepts
        [row] = await svc.wait_for_rows(lambda r: r.status == "sent")
        assert row.attempts >= 3
        assert row.last_reply.startswith("2.0.0")
        assert smtp_sink.message_ids() == {f"<{row.id}@regmail.localhost>": 1}


async def test_connection_refused_pauses_delivery_without_spending_attempts(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, smtp_pause_max_seconds=2)
    async with running_service(settings) as svc:
        await svc.register("down@example.com")  # nothing listens on the port yet
        [row] = await svc.wait_for_rows(lambda r: r.status == "retrying")
        assert "Connect" in row.last_reply or "refused" in row.last_reply.lower()
        assert row.attempts == 0  # the provider's trouble, not the mail's
        public = (await svc.client.get("/readyz")).json()
        assert public["status"] == "ready"  # sign-ups go on
        # States for anyone; the provider's reply and the worker's host:pid for operators.
        assert public["delivery"] == "paused" and "detail" not in public
        assert row.last_reply not in str(public) and "worker" not in str(public)
        bearer = {"Authorization": f"Bearer {TEST_DEFAULTS['admin_token']}"}
        ready = (await svc.client.get("/readyz", headers=bearer)).json()
        assert ready["detail"]["delivery"].startswith("paused since")
        smtp_sink.start()
        [row] = await svc.wait_for_rows(lambda r: r.status == "sent")
        assert row.attempts == 1
        assert sum(smtp_sink.message_ids().values()) == 1
        assert (await svc.client.get("/readyz")).json()["delivery"] == "ok"


@pytest.mark.parametrize("command", ["RCPT", "DATA", "."])
async def test_5xx_is_dead_after_one_attempt(
    tmp_path: Path, smtp_sink: SmtpSink, command: str
) -> None:
    smtp_sink.start("-f", command)
    async with running_service(make_settings(tmp_path, smtp_url=smtp_sink.url)) as svc:
        await svc.register("bounce@example.com")
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead")
        assert (row.attempts, row.dead_reason) == (1, "rejected")
        assert row.last_reply.startswith("500 5.3.0")
        async with svc.runtime.engine.connect() as conn:
            parked = (await conn.execute(select(outbox.c.status, outbox.c.dead_reason))).all()
        assert [(p.status, p.dead_reason) for p in parked] == [("dead", "rejected")]


async def test_gives_up_after_max_attempts(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start("-r", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, retry_max_attempts=3)
    async with running_service(settings) as svc:
        await svc.register("flaky@example.com")
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead")
        assert (row.attempts, row.dead_reason) == (3, "max-attempts")


async def test_stops_retrying_once_the_link_would_have_expired(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start("-r", "RCPT")
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        token_ttl_seconds=60,
        retry_base_seconds=300,
        retry_max_delay_seconds=600,
    )
    async with running_service(settings) as svc:
        await svc.register("slow@example.com")
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead")
        assert (row.attempts, row.dead_reason) == (1, "expired")


async def test_slow_server_does_not_slow_sign_up(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start("-w", "2")  # 2 s before answering DATA, like a slow provider
    async with running_service(make_settings(tmp_path, smtp_url=smtp_sink.url)) as svc:
        await svc.register("first@example.com")
        await svc.wait_for_rows(lambda r: r.status == "sending")
        started = time.perf_counter()
        await svc.register("second@example.com")
        elapsed = time.perf_counter() - started
        # The answer does not wait for SMTP: far less than the 2 s one mail takes.
        assert elapsed < 1.0, elapsed
        rows = await svc.wait_for_rows(lambda r: r.status == "sent")
        assert len(rows) == 2
        assert sorted(smtp_sink.message_ids().values()) == [1, 1]


async def test_sends_keep_to_the_providers_rate(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start()
    rate, count = 20, 41
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, smtp_max_per_second=rate)
    async with running_service(settings, worker=False) as svc:
        for i in range(count):
            await svc.register(f"paced{i}@example.com")
    async with running_service(settings) as svc:
        started = time.monotonic()
        await svc.wait_for_rows(lambda r: r.status == "sent", timeout=60)
        elapsed = time.monotonic() - started
    # A lower bound, so it cannot be flaky: 41 sends 1/20 s apart take at least 2 s.
    assert elapsed >= (count - 1) / rate
    assert len(smtp_sink.message_ids()) == count
