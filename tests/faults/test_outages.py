"""A broker or the database down under sign-up load: the API answers 202 or a clean 503,
never a 500 or a hang, and everything acknowledged is delivered once the server is back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.faults import report
from tests.faults.harness import Fleet, SignUpLoad, deployment, outcome
from tests.support.mailstate import none_unsent
from tests.support.servers import ServiceServer
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port

PER_PHASE = 50  # acknowledged sign-ups before, during and after the outage


@pytest.mark.parametrize("kind", ["rabbitmq", "kafka"])
async def test_broker_down_sign_up_still_answers_202_and_all_is_delivered(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_sink: SmtpSink, long_mode: bool, kind: str
) -> None:
    outage_seconds = 120 if long_mode else 20  # the scenario's length, not a synchronisation
    server: ServiceServer = request.getfixturevalue(f"{kind}_server")
    async with deployment(request, kind) as overrides:
        load, settings, recovery = await _outage(
            tmp_path, smtp_sink, overrides, server, outage_seconds, down_status=202
        )
        result = await outcome(
            settings, smtp_sink.message_ids(), accepted_recipients=load.accepted()
        )
    assert set(load.statuses()) == {202}, f"sign-up must not fail: {load.statuses()}"
    result.check(duplicate_bound=0)
    report.record(
        f"broker down {outage_seconds} s, {kind}",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=recovery,
        note="every answer 202; recovery: broker back → all sent",
    )


async def test_database_down_answers_503_never_500_and_all_is_delivered(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_sink: SmtpSink, long_mode: bool
) -> None:
    outage_seconds = 120 if long_mode else 20
    server: ServiceServer = request.getfixturevalue("postgres_server")
    async with deployment(request, "db-postgres") as overrides:
        load, settings, recovery = await _outage(
            tmp_path, smtp_sink, overrides, server, outage_seconds, down_status=503
        )
        result = await outcome(
            settings, smtp_sink.message_ids(), accepted_recipients=load.accepted()
        )
    statuses = load.statuses()
    assert set(statuses) <= {202, 503}, statuses
    assert all(
        a.content_type == "application/problem+json" for a in load.answers if a.status == 503
    )
    assert max(a.seconds for a in load.answers) < 15, "a request hung"
    result.check(duplicate_bound=0)
    report.record(
        f"database down {outage_seconds} s, db-postgres",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=recovery,
        note=f"{statuses[503]} answers 503 while down, no other error; "
        "recovery: database back → all sent",
    )


async def _outage(
    tmp_path: Path,
    sink: SmtpSink,
    overrides: dict[str, object],
    server: ServiceServer,
    outage_seconds: float,
    down_status: int,
) -> tuple[SignUpLoad, object, float]:
    """serve + two workers under load; `server` stopped for `outage_seconds`, then started.
    While it is down, wait for PER_PHASE answers of `down_status`."""
    sink.start()
    port = free_port()
    settings = make_settings(tmp_path, smtp_url=sink.url, port=port, **overrides)
    fleet = Fleet(settings, tmp_path)
    await fleet.migrate()
    load = SignUpLoad(f"http://127.0.0.1:{port}")
    try:
        fleet.start("serve")
        fleet.start("worker")
        fleet.start("worker")
        await asyncio.to_thread(wait_for_port, port, 30)
        load.start()
        try:
            await eventually(load.reached(202, "before", PER_PHASE), timeout=60)
            load.phase = "down"
            await asyncio.to_thread(server.stop)
            down_at = time.monotonic()
            await eventually(load.reached(down_status, "down", PER_PHASE), timeout=60)
            # What a load balancer sees: out without the database; in without the broker,
            # which sign-up does not need, though /readyz names it.
            expected = (503, "ok") if down_status == 503 else (200, "unavailable")
            await eventually(_readiness(port, *expected), timeout=30)
            await asyncio.sleep(max(0.0, outage_seconds - (time.monotonic() - down_at)))
            load.phase = "after"
            await asyncio.to_thread(server.start)
            up_at = time.monotonic()
            await eventually(load.reached(202, "after", PER_PHASE), timeout=120)
            await eventually(_readiness(port, 200, "ok"), timeout=60)
        finally:
            await load.stop()
        await eventually(lambda: none_unsent(settings), timeout=300, interval=0.5)
        recovery = time.monotonic() - up_at
    finally:
        await fleet.stop()
    return load, settings, recovery


def _readiness(port: int, status: int, broker: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(f"http://127.0.0.1:{port}/readyz")
        checks = answer.json()["checks"]
        # With the database down the broker check cannot be trusted either way.
        return answer.status_code == status and (status == 503 or checks["broker"] == broker)

    return probe
