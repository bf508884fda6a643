"""regmail running inside the test's event loop: API client, worker task, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from regmail import roles
from regmail.db.migrate import migrate
from regmail.db.tables import address_requests, mails
from regmail.mail.sink import Mailbox
from regmail.runtime import Runtime
from regmail.settings import Settings
from tests.support.waiting import eventually

# Fast enough for tests; the retry schedule itself is covered by unit tests.
TEST_DEFAULTS: dict[str, Any] = {
    "argon2_memory_kib": 8192,
    "argon2_time_cost": 1,
    "signups_per_ip_per_minute": 100_000,
    "requests_per_address_per_hour": 100_000,
    "sign_in_checks_per_ip_per_minute": 100_000,
    "link_attempts_per_ip_per_minute": 100_000,
    "resend_cooldown_seconds": 0,
    "mails_per_address_per_hour": 1000,
    "retry_base_seconds": 0.2,
    "retry_max_delay_seconds": 0.5,
    "worker_poll_seconds": 0.05,
    "smtp_timeout": 5.0,
    "public_url": "http://regmail.test",
    "admin_token": "7f3c9a1e5b2d4f6081a3c5e7092b4d6f",
    "secret_key": "3QcKQhuEutwwrkNXWS37At8axYwWbVzqOaZ91QTglTw=",  # a test key, shared by processes
}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values = {
        **TEST_DEFAULTS,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'regmail.db'}",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


PASSWORD = "correct horse"  # the password of the tests' sign-ups, unless they say otherwise


@dataclass
class Service:
    runtime: Runtime
    client: httpx.AsyncClient  # from 127.0.0.1
    mailbox: Mailbox | None
    app: FastAPI

    def client_at(self, ip: str) -> httpx.AsyncClient:
        """Another client of the same service, from `ip` (close it after use)."""
        transport = httpx.ASGITransport(app=self.app, client=(ip, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://regmail.test")

    async def register(self, email: str, password: str = PASSWORD, **extra: Any) -> None:
        response = await self.client.post(
            "/v1/registrations", json={"email": email, "password": password, **extra}
        )
        assert response.status_code == 202, response.text

    async def post_form(self, action: str, fields: dict[str, str]) -> httpx.Response:
        """Submit one of regmail's HTML forms as a browser does: with the CSRF token its
        pages set in a cookie and in the form (any page's: it is one per browser)."""
        if "regmail-csrf" not in self.client.cookies:
            assert (await self.client.get("/signup")).status_code == 200
        token = self.client.cookies["regmail-csrf"]
        return await self.client.post(action, data={**fields, "csrf_token": token})

    async def activate(self, token: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/v1/activations", json={"token": token, "password": password}
        )

    async def requests_handled(self) -> None:
        """Once every resend and reset request answered so far is handled (its row goes in
        the transaction that queues its mail)."""

        async def probe() -> bool:
            async with self.runtime.engine.connect() as conn:
                left = await conn.scalar(select(func.count()).select_from(address_requests))
            return left == 0

        await eventually(probe, interval=0.005)

    async def mail_rows(self) -> list[Any]:
        async with self.runtime.engine.connect() as conn:
            return list(await conn.execute(select(mails).order_by(mails.c.created_at)))

    async def wait_for_rows(
        self, predicate: Callable[[Any], bool], timeout: float = 20.0
    ) -> list[Any]:
        """The mail rows, once there are some and every one satisfies `predicate`."""

        async def probe() -> list[Any]:
            rows = await self.mail_rows()
            return rows if rows and all(predicate(r) for r in rows) else []

        return await eventually(probe, timeout)


@asynccontextmanager
async def running_service(
    settings: Settings, worker: bool = True, mailbox: Mailbox | None = None
) -> AsyncIterator[Service]:
    """The API over a migrated database, with a worker (unless `worker` is False) and, for
    RabbitMQ or Kafka, a relay running beside it, as `regmail dev` assembles them."""
    runtime = Runtime.build(settings, mailbox)
    try:
        await migrate(runtime.engine)
        background = {roles.Role.WORKER} if worker else set()
        if runtime.relays:
            background.add(roles.Role.RELAY)
        app = roles.api(runtime, background)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://regmail.test") as client,
        ):
            yield Service(runtime, client, mailbox, app)
    finally:
        await runtime.close()
