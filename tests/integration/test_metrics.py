"""/metrics moves with the traffic: sign-ups by outcome, latency by route, mails by outcome,
SMTP timing and connections, outbox and broker backlog; and across processes."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from regmail.mail.sink import Mailbox
from regmail.settings import Settings
from tests.support.mailstate import count_outbox, none_unsent
from tests.support.metrics import samples, value
from tests.support.processes import regmail_cli, start_regmail
from tests.support.rabbitmq import queue_depth
from tests.support.service import make_settings, running_service
from tests.support.waiting import eventually, free_port, wait_for_port


async def test_metrics_move_during_an_end_to_end_run(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    async with running_service(make_settings(tmp_path, smtp_url=aiosmtpd_server[0])) as svc:
        before = (await svc.client.get("/metrics")).text
        await svc.register("one@example.com")
        await svc.register("two@example.com")
        invalid = await svc.client.post("/v1/registrations", json={"email": "nope"})
        assert invalid.status_code == 422
        await svc.wait_for_rows(lambda r: r.status == "sent")
        after = (await svc.client.get("/metrics")).text

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("regmail_signups_total", outcome="accepted") == 2
    assert moved("regmail_signups_total", outcome="invalid") == 1
    route = {"method": "POST", "route": "/v1/registrations"}
    assert moved("regmail_http_request_duration_seconds_count", **route, status="202") == 2
    assert moved("regmail_http_request_duration_seconds_count", **route, status="422") == 1
    assert moved("regmail_mails_total", outcome="sent") == 2
    assert moved("regmail_smtp_send_seconds_count") == 2
    assert value(after, "regmail_smtp_connections") >= 1  # the pool keeps its connection
    assert value(after, "regmail_outbox_depth") == 0  # all delivered, read at the scrape
    assert value(after, "regmail_outbox_oldest_age_seconds") == 0


async def test_known_outcomes_are_exported_at_zero_before_they_happen(tmp_path: Path) -> None:
    """Otherwise rate() misses each outcome's first increase (its series starts counted)."""
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        page = samples((await svc.client.get("/metrics")).text)
    expected = {
        "regmail_signups_total": ("outcome", ["accepted", "invalid", "limited", "unavailable"]),
        "regmail_activations_total": ("outcome", ["activated", "invalid", "used", "expired"]),
        "regmail_mails_total": ("outcome", ["sent", "retrying", "dead"]),
        "regmail_mails_dead_total": ("reason", ["rejected", "max-attempts", "max-age"]),
    }
    for name, (label, values) in expected.items():
        for v in values:
            # Present (at 0 in a fresh process; this one may have counted some already).
            assert (name, frozenset({(label, v)})) in page, (name, v)


async def test_outbox_backlog_is_read_at_scrape_time(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        for i in range(3):
            await svc.register(f"waiting{i}@example.com")
        page = (await svc.client.get("/metrics")).text
    assert value(page, "regmail_outbox_depth") == 3
    assert value(page, "regmail_outbox_oldest_age_seconds") > 0


async def test_kafka_consumer_lag_is_the_broker_backlog(
    tmp_path: Path, kafka: dict[str, Any], postgres_url: str
) -> None:
    await _backlog_is_reported(make_settings(tmp_path, database_url=postgres_url, **kafka), 3)


async def test_rabbitmq_queue_depth_is_the_broker_backlog(
    tmp_path: Path, rabbit: dict[str, Any]
) -> None:
    """Messages, not mails: mails relayed in one turn are one message (amqp_batches.py),
    so the depth is RabbitMQ's own count once the outbox is empty."""
    url, prefix = str(rabbit["broker_url"]), str(rabbit["rabbitmq_prefix"])

    async def depth() -> int:
        return await queue_depth(url, f"{prefix}.mail")

    await _backlog_is_reported(make_settings(tmp_path, **rabbit), 2, depth)


async def _backlog_is_reported(
    settings: Settings, count: int, messages: Callable[[], Awaitable[int]] | None = None
) -> None:
    """Sign up `count` times with no worker: the broker holds them (in `messages()`
    messages, else `count`), /metrics says so."""
    async with running_service(settings, worker=False) as svc:  # relayed, not consumed
        for i in range(count):
            await svc.register(f"waiting{i}@example.com")
        await eventually(lambda: _relayed(settings))
        held = count if messages is None else await messages()
        assert held >= 1

        async def reported() -> bool:
            page = (await svc.client.get("/metrics")).text
            return value(page, "regmail_broker_backlog_messages") == held

        await eventually(reported, timeout=30)


async def _relayed(settings: Settings) -> bool:
    return await count_outbox(settings) == 0


async def test_the_api_shows_every_process_with_a_shared_multiprocess_dir(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))  # for the children only
    port, worker_port = free_port(), free_port()
    settings = make_settings(
        tmp_path, smtp_url=aiosmtpd_server[0], port=port, metrics_port=worker_port
    )
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    log = tmp_path / "regmail.log"
    processes = [
        start_regmail(settings, name, log=log, cwd=tmp_path) for name in ("serve", "worker")
    ]
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(3):
                r = await client.post(
                    "/v1/registrations",
                    json={"email": f"multi{i}@example.com", "password": "correct horse"},
                )
                assert r.status_code == 202
            await eventually(lambda: none_unsent(settings), timeout=30)
            api_page = (await client.get("/metrics")).text
        await asyncio.to_thread(wait_for_port, worker_port, 30)
        async with httpx.AsyncClient() as client:
            worker_page = (await client.get(f"http://127.0.0.1:{worker_port}/")).text
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.to_thread(process.wait, 30)
    # The worker process sent them; the API process shows it, and so does the worker's port.
    assert value(api_page, "regmail_mails_total", outcome="sent") == 3
    assert value(api_page, "regmail_signups_total", outcome="accepted") == 3
    assert value(worker_page, "regmail_mails_total", outcome="sent") == 3
