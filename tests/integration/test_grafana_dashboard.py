"""The Grafana dashboard against a real run: Prometheus scrapes the API, the relay and a
worker (PostgreSQL + RabbitMQ) through sign-ups, activations, an SMTP server that answers
4xx, goes away and answers 5xx; then every panel's queries are asked of Prometheus as
Grafana would ask them, and each shows what happened. The panels are drawn as the picture
in docs/deploy.md (`scripts/test tests/integration/test_grafana_dashboard.py
--dashboard-picture docs/dashboard.png`)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest

from regmail.mail.sink import LINK
from regmail.mails.status import MailStatus
from regmail.settings import Settings
from tests.faults.harness import Fleet, SignUpLoad, deployment
from tests.support.dashboard import Panel, evaluate, render
from tests.support.mailstate import count_mails, none_pending
from tests.support.processes import start_regmail
from tests.support.prometheus import Prometheus
from tests.support.service import PASSWORD, make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port

SCRAPE_SECONDS = 2


async def test_every_panel_shows_a_real_run(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start()
    api, relay, worker = free_port(), free_port(), free_port()
    async with deployment(request, "rabbitmq") as overrides:
        settings = make_settings(
            tmp_path,
            smtp_url=smtp_sink.url,
            port=api,
            worker_concurrency=10,
            retry_base_seconds=1.0,
            retry_max_delay_seconds=4.0,
            smtp_pause_max_seconds=4,
            **overrides,
        )
        prometheus = Prometheus(
            tmp_path, {"api": [api], "relay": [relay], "worker": [worker]}, SCRAPE_SECONDS
        )
        fleet = Fleet(settings, tmp_path)
        await fleet.migrate()
        fleet.start("serve")  # its metrics at /metrics of the API port
        for command, port in (("relay", relay), ("worker", worker)):
            own = settings.model_copy(update={"metrics_port": port})
            fleet.processes.append(start_regmail(own, command, log=fleet.log, cwd=tmp_path))
        await prometheus.start()
        try:
            wait_for_port(api, 30)
            await eventually(prometheus.all_targets_up, timeout=60, interval=0.5)
            start = time.time()
            await _run(settings, smtp_sink, prometheus, f"http://127.0.0.1:{api}")
            end = time.time()
            await eventually(_scraped_after(prometheus, end), timeout=30, interval=0.5)
            panels = {p.title: p for p in await evaluate(prometheus, start, end)}
        finally:
            await prometheus.stop()
            await fleet.stop()
    picture = request.config.getoption("--dashboard-picture") or tmp_path / "dashboard.png"
    title = "regmail — PostgreSQL + RabbitMQ, one API, relay, worker"
    render(list(panels.values()), title, picture)
    _check(panels)


async def _run(settings: Settings, sink: SmtpSink, prometheus: Prometheus, url: str) -> None:
    """Sign-ups all along, while the SMTP server is well, answers 4xx, is away, answers
    5xx; activations of the mails that arrived. How long a phase lasts is the scenario's
    length, for the picture; what it must have caused is waited for."""
    load = SignUpLoad(url, clients=1, phase="well")
    load.start()
    try:
        await eventually(load.reached(202, "well", 150), timeout=60)
        await _phase(load, "4xx", lambda: sink.start("-r", "RCPT"), 10)
        await eventually(lambda: count_mails(settings, MailStatus.RETRYING), timeout=30)
        await _phase(load, "well-again", sink.start, 10, _activate(url, sink, count=40))
        await _phase(load, "away", sink.stop, 8)
        await eventually(_paused(prometheus), timeout=30, interval=0.5)
        await _phase(load, "back", sink.start, 10)
        await _phase(load, "5xx", lambda: sink.start("-f", "RCPT"), 4)
        await eventually(lambda: count_mails(settings, MailStatus.DEAD), timeout=30)
        await _phase(load, "well-at-last", sink.start, 8, _activate(url, sink, count=20))
    finally:
        await load.stop()
    # Every mail sent, or dead (the 5xx phase's).
    await eventually(lambda: none_pending(settings), timeout=120, interval=0.5)


async def _phase(
    load: SignUpLoad, name: str, begin: Any, seconds: float, then: Awaitable[None] | None = None
) -> None:
    begin()
    load.phase = name
    if then is not None:
        await then
    await asyncio.sleep(seconds)  # the phase's length in the picture, not a synchronisation


async def _activate(url: str, sink: SmtpSink, count: int) -> None:
    """Activate `count` accounts from the links in their mails; then use one link again and
    try a few tokens never issued."""

    async def arrived() -> list[str]:
        links = [link for m in sink.messages() for link in LINK.findall(_text(m))]
        return links[:count] if len(links) >= count else []

    links = await eventually(arrived, timeout=60, interval=0.5)
    async with httpx.AsyncClient(base_url=url) as http:
        for link in links:
            token = httpx.URL(link).params["token"]
            r = await http.post("/v1/activations", json={"token": token, "password": PASSWORD})
            assert r.status_code == 200, r.text
        again = await http.post("/v1/activations", json={"token": token, "password": PASSWORD})
        assert again.status_code == 410, again.text
        for i in range(count // 4):
            r = await http.post(
                "/v1/activations", json={"token": f"{i:043d}", "password": PASSWORD}
            )
            assert r.status_code == 400, r.text


def _text(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    return "" if body is None else str(body.get_content())


def _paused(prometheus: Prometheus) -> Any:
    async def probe() -> bool:
        return 1 in await prometheus.recent_values("max(regmail_smtp_paused)", 10)

    return probe


def _scraped_after(prometheus: Prometheus, moment: float) -> Any:
    """Prometheus has scraped every target after `moment`: the run's end is in its data."""

    async def probe() -> bool:
        return any(t > moment for t in await prometheus.recent_values("min(timestamp(up))", 5))

    return probe


def _names(panel: Panel) -> set[str]:
    return {s.name for s in panel.series if any(v > 0 for v in _finite(s.values))}


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def _peak(panel: Panel) -> float:
    return max((v for s in panel.series for v in _finite(s.values)), default=0.0)


def _check(panels: dict[str, Panel]) -> None:
    assert len(panels) == 12, sorted(panels)
    assert {"accepted"} <= _names(panels["Sign-ups by outcome"])
    assert {"p50", "p99"} <= _names(panels["Sign-up latency (p50, p99)"])
    assert {"sent", "retrying", "dead"} <= _names(panels["Mails by outcome"])
    assert "rejected" in _names(panels["Dead mails by reason (in the time range)"])
    assert panels["Outbox depth"].series
    assert panels["Oldest waiting mail (relay / queue lag)"].series
    assert panels["Broker backlog (RabbitMQ depth, Kafka lag)"].series
    assert {"p50", "p99"} <= _names(panels["SMTP send latency (p50, p99)"])
    assert _peak(panels["SMTP connections open"]) >= 1
    paused = panels["Delivery paused (provider refuses us)"]
    assert _peak(paused) == 1 and paused.series[0].values[-1] == 0  # paused, then resumed
    assert _peak(panels["Relay publishes"]) > 0
    assert {"activated", "used", "invalid"} <= _names(panels["Activations by outcome"])
