"""What every fault scenario checks, and the sign-up load it runs while the fault lands."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regmail.db.engine import create_engine
from regmail.db.tables import mails
from regmail.settings import Settings
from tests.support.brokers import kafka_overrides, rabbit_overrides, remove_kafka, remove_rabbit
from tests.support.processes import start_regmail
from tests.support.servers import PostgresServer
from tests.support.service import PASSWORD


def message_id(mail_id: str) -> str:
    return f"<{mail_id}@regmail.localhost>"


@dataclass
class Outcome:
    """The end state of a scenario, from the database and the SMTP server's own record."""

    mails: int  # rows in the mails table
    sent: int
    dead: int
    lost: list[str]  # mails (or acknowledged sign-ups) that never reached the server
    stuck: list[str]  # rows left queued, sending or retrying
    dead_without_reason: list[str]
    duplicates: int  # deliveries beyond the first, summed over mails
    unknown: int  # Message-IDs the server saw that no row accounts for

    def check(self, duplicate_bound: int) -> None:
        assert self.lost == [], f"lost: {self.lost[:5]} ({len(self.lost)})"
        assert self.stuck == [], f"not finished: {self.stuck[:5]} ({len(self.stuck)})"
        assert self.dead_without_reason == [], self.dead_without_reason[:5]
        assert self.unknown == 0, "the server received mail no row accounts for"
        assert self.duplicates <= duplicate_bound, (self.duplicates, duplicate_bound)


async def outcome(
    settings: Settings,
    delivered: Counter[str],
    expected_ids: set[str] = frozenset(),  # type: ignore[assignment]
    accepted_recipients: set[str] = frozenset(),  # type: ignore[assignment]
) -> Outcome:
    """Compare every mail row, the expected mails and the acknowledged sign-ups with what
    the SMTP server received (`delivered`: Message-ID → times)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            query = select(mails.c.id, mails.c.recipient, mails.c.status, mails.c.dead_reason)
            rows = (await conn.execute(query)).all()
    finally:
        await engine.dispose()
    ids = {r.id for r in rows}
    recipients = {r.recipient for r in rows}
    lost = [r.id for r in rows if r.status == "sent" and not delivered[message_id(r.id)]]
    lost += sorted(i for i in expected_ids if i not in ids or not delivered[message_id(i)])
    lost += sorted(accepted_recipients - recipients)
    return Outcome(
        mails=len(rows),
        sent=sum(1 for r in rows if r.status == "sent"),
        dead=sum(1 for r in rows if r.status == "dead"),
        lost=lost,
        stuck=[r.id for r in rows if r.status not in ("sent", "dead")],
        dead_without_reason=[r.id for r in rows if r.status == "dead" and not r.dead_reason],
        duplicates=sum(delivered.values()) - len(delivered),
        unknown=sum(1 for m in delivered if m not in {message_id(i) for i in ids}),
    )


@dataclass
class Answer:
    email: str
    status: int  # 0: no answer (connection refused or reset)
    content_type: str
    seconds: float
    phase: str


@dataclass
class SignUpLoad:
    """Clients signing up in a loop until stopped; each answer is kept with its phase."""

    base_url: str
    clients: int = 4
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def count(self, status: int, phase: str | None = None) -> int:
        return sum(1 for a in self.answers if a.status == status and phase in (None, a.phase))

    def reached(self, status: int, phase: str, n: int):  # type: ignore[no-untyped-def]
        """A probe for `eventually`: at least n answers `status` in `phase`."""

        async def probe() -> bool:
            return self.count(status, phase) >= n

        return probe

    def accepted(self) -> set[str]:
        return {a.email for a in self.answers if a.status == 202}

    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    async def _client(self, n: int) -> None:
        i = 0
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            while not self._stop.is_set():
                email = f"load{n}-{i}-{self.phase}@example.com"
                phase, started = self.phase, time.monotonic()
                try:
                    r = await http.post(
                        "/v1/registrations", json={"email": email, "password": PASSWORD}
                    )
                    status, content_type = r.status_code, r.headers.get("content-type", "")
                except httpx.TransportError:
                    status, content_type = 0, ""
                    await asyncio.sleep(0.05)  # the server is away; do not spin
                self.answers.append(
                    Answer(email, status, content_type, time.monotonic() - started, phase)
                )
                i += 1


DEPLOYMENTS = ["db-sqlite", "db-postgres", "rabbitmq", "kafka"]


@asynccontextmanager
async def deployment(request: pytest.FixtureRequest, kind: str) -> AsyncIterator[dict[str, Any]]:
    """Settings overrides for one way to run regmail: the database as the queue (SQLite or
    PostgreSQL), or RabbitMQ or Kafka (both over PostgreSQL). Removed afterwards."""
    if kind == "db-sqlite":
        yield {}
        return
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    overrides: dict[str, Any] = {"database_url": await postgres.create_database()}
    if kind == "rabbitmq":
        overrides |= rabbit_overrides(request.getfixturevalue("rabbitmq_server").url)
    elif kind == "kafka":
        overrides |= kafka_overrides(request.getfixturevalue("kafka_server").url)
    try:
        yield overrides
    finally:
        if kind == "rabbitmq":
            await remove_rabbit(overrides)
        elif kind == "kafka":
            await remove_kafka(overrides)
        await postgres.drop_database(overrides["database_url"])


@dataclass
class Fleet:
    """regmail processes of one scenario, all stopped (SIGTERM) at the end."""

    settings: Settings
    directory: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.directory / "regmail.log"

    async def migrate(self) -> None:
        """`regmail migrate`: the schema, and Kafka's topics."""
        migrate = start_regmail(self.settings, "migrate", log=self.log, cwd=self.directory)
        assert await asyncio.to_thread(migrate.wait, 60) == 0, self.log.read_text()

    def start(self, command: str, max_file_bytes: int | None = None) -> subprocess.Popen[bytes]:
        """Start `regmail command`; with `max_file_bytes`, no file it writes may grow past
        that size (RLIMIT_FSIZE: writes beyond fail with EFBIG, as on a full disk)."""
        process = start_regmail(
            self.settings, command, log=self.log, cwd=self.directory, max_file_bytes=max_file_bytes
        )
        self.processes.append(process)
        return process

    async def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(process.wait, 30) == -signal.SIGKILL
        self.processes.remove(process)

    async def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            await asyncio.to_thread(process.wait, 60)
        self.processes.clear()
