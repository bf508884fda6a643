"""Rate limits behind proxies and across API processes (issue 19's reproductions)."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from regmail.api.app import create_app
from regmail.clock import utcnow
from regmail.db.engine import create_engine
from regmail.db.tables import rate_limits
from regmail.limits import RateLimit, RateLimited, hit_together
from regmail.limits.database import DatabaseCounters
from regmail.runtime import Runtime
from tests.support.processes import regmail_cli, start_regmail
from tests.support.service import PASSWORD, make_settings, running_service
from tests.support.waiting import free_port, wait_for_port

SIGN_UP = "/v1/registrations"


def _body(email: str) -> dict[str, str]:
    return {"email": email, "password": PASSWORD}


async def test_people_behind_a_trusted_ingress_each_have_their_own_budget(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path, signups_per_ip_per_minute=2, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]
    )
    async with running_service(settings, worker=False) as svc:
        for person in ("203.0.113.5", "198.51.100.8"):
            via_ingress = {"X-Forwarded-For": f"{person}, 10.0.0.7"}
            for n in range(2):
                r = await svc.client.post(
                    SIGN_UP, json=_body(f"{n}@{person}.example"), headers=via_ingress
                )
                assert r.status_code == 202, (person, r.text)
        also_first = {"Forwarded": 'for=203.0.113.5, for="10.0.0.7"'}
        r = await svc.client.post(SIGN_UP, json=_body("x@example.com"), headers=also_first)
        assert r.status_code == 429


async def test_forwarding_headers_from_an_untrusted_peer_are_ignored(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, signups_per_ip_per_minute=2, trusted_proxies=["10.0.0.1"])
    async with running_service(settings, worker=False) as svc:
        answers = []
        for n in range(3):  # the peer (127.0.0.1) claims a new client each time
            forged = {"X-Forwarded-For": f"203.0.113.{n}"}
            r = await svc.client.post(SIGN_UP, json=_body(f"{n}@example.com"), headers=forged)
            answers.append(r.status_code)
        assert answers == [202, 202, 429]


async def test_one_ipv6_subscriber_is_one_client(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, signups_per_ip_per_minute=2)
    async with running_service(settings, worker=False) as svc:
        answers = []
        for n in range(3):  # three addresses of one /64
            headers = {"X-Forwarded-For": f"2001:db8:5:6::{n + 1}"}
            r = await svc.client.post(SIGN_UP, json=_body(f"{n}@example.com"), headers=headers)
            answers.append(r.status_code)
        assert answers == [202, 202, 429]


async def test_two_api_processes_on_postgresql_share_one_budget(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url, signups_per_ip_per_minute=3)
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    ports = [free_port(), free_port()]
    log = tmp_path / "serve.log"
    apis = [
        start_regmail(settings.model_copy(update={"port": port}), "serve", log=log, cwd=tmp_path)
        for port in ports
    ]
    try:
        for port in ports:
            await asyncio.to_thread(wait_for_port, port, 30)
        answers = []
        async with httpx.AsyncClient() as client:
            for n in range(5):  # alternately to each, as a load balancer would
                url = f"http://127.0.0.1:{ports[n % 2]}{SIGN_UP}"
                answers.append((await client.post(url, json=_body(f"{n}@example.com"))).status_code)
        assert answers == [202, 202, 202, 429, 429], log.read_text()[-3000:]
    finally:
        for api in apis:
            api.send_signal(signal.SIGTERM)
        for api in apis:
            await asyncio.to_thread(api.wait, 30)


async def test_one_requests_limits_count_together_on_postgresql_without_deadlock(
    tmp_path: Path, postgres_url: str
) -> None:
    """Both of a sign-up's limits in one statement; requests naming the same keys in either
    order at once all count, none deadlocks (rows are locked in key order)."""
    settings = make_settings(tmp_path, database_url=postgres_url)
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    engine = create_engine(settings)
    try:
        counters = DatabaseCounters(engine)
        first = RateLimit("first", 1000, 60.0, counters, clock=lambda: 6000.0)
        second = RateLimit("second", 1000, 3600.0, counters, clock=lambda: 6000.0)
        orders = [((first, "k"), (second, "k")), ((second, "k"), (first, "k"))]
        await asyncio.gather(*(hit_together(*orders[n % 2]) for n in range(40)))
        async with engine.connect() as conn:
            hits = (await conn.execute(select(rate_limits.c.hits))).scalars().all()
        assert sorted(hits) == [40, 40]
        with pytest.raises(RateLimited):
            await hit_together((RateLimit("first", 40, 60.0, counters, lambda: 6000.0), "k"))
    finally:
        await engine.dispose()


async def test_spent_counters_are_purged(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url)
    async with running_service(settings, worker=False) as svc:
        r = await svc.client.post(SIGN_UP, json=_body("a@example.com"))
        assert r.status_code == 202
        engine = create_async_engine(postgres_url)
        try:
            count = select(func.count()).select_from(rate_limits)
            async with engine.connect() as conn:
                assert await conn.scalar(count) == 2  # this client, this address from it
            await svc.runtime.accounts.admin.purge(utcnow() + timedelta(hours=2, seconds=1))
            async with engine.connect() as conn:
                assert await conn.scalar(count) == 0
        finally:
            await engine.dispose()


async def test_with_the_database_away_a_limited_request_is_a_clean_503(tmp_path: Path) -> None:
    down = f"postgresql+asyncpg://regmail:pw@127.0.0.1:{free_port()}/regmail"
    runtime = Runtime.build(make_settings(tmp_path, database_url=down))
    try:
        app = create_app(runtime)  # no lifespan: nothing beside it needs the database
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.post(SIGN_UP, json=_body("a@example.com"))
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    finally:
        await runtime.close()
