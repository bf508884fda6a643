"""Servers for tests (PostgreSQL, RabbitMQ): started by scripts/services, or given by URL.

REGMAIL_TEST_POSTGRES_URL / REGMAIL_TEST_RABBITMQ_URL target existing servers; otherwise
`scripts/services start <name>` runs the project's own. Each PostgreSQL test gets a
database of its own, dropped afterwards; each RabbitMQ test its own exchange and queues.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services"


@dataclass
class ServiceServer:
    name: str  # as scripts/services knows it: postgres, rabbitmq
    url: str
    managed: bool  # started by scripts/services, so tests may stop and start it

    @classmethod
    def find_or_start(cls, name: str) -> ServiceServer:
        given = os.environ.get(f"REGMAIL_TEST_{name.upper()}_URL")
        if given:
            return cls(name, given, managed=False)
        return cls(name, _services("start", name), managed=True)

    def stop(self) -> None:
        self._require_managed()
        _services("stop", self.name)

    def start(self) -> None:
        self._require_managed()
        url = _services("start", self.name)
        assert url == self.url, "the restarted server moved to another port"

    def _require_managed(self) -> None:
        if not self.managed:
            raise AssertionError(
                f"this test stops and starts {self.name}: run it with the server of "
                f"scripts/services (unset REGMAIL_TEST_{self.name.upper()}_URL)"
            )


class PostgresServer(ServiceServer):
    @classmethod
    def find(cls) -> PostgresServer:
        server = ServiceServer.find_or_start("postgres")
        return cls(server.name, server.url, server.managed)

    def asyncpg_dsn(self, database: str | None = None) -> str:
        url = make_url(self.url).set(drivername="postgresql")
        if database is not None:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    async def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"regmail_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.asyncpg_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    async def drop_database(self, url: str) -> None:
        name = make_url(url).database
        conn = await asyncpg.connect(self.asyncpg_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _services(action: str, name: str, *args: str) -> str:
    done = subprocess.run(
        [str(SERVICES), action, name, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/services {action} {name} {args} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@dataclass
class PostgresPair:
    """A primary and its synchronous streaming standby (`scripts/services start
    postgres-replica`), new for each test: a failover ends the pair."""

    url: str  # both hosts, target_session_attrs=read-write

    @classmethod
    def start(cls) -> PostgresPair:
        return cls(_services("start", "postgres-replica"))

    def kill_primary(self) -> None:
        _services("kill", "postgres-replica")

    def promote_standby(self) -> None:
        _services("promote", "postgres-replica")

    def stop(self) -> None:
        _services("stop", "postgres-replica")


@dataclass
class Cluster:
    """Three nodes of one server in a cluster (`scripts/services start rabbitmq-cluster`
    or `kafka-cluster`), new for each test; nodes are numbered 1-3."""

    service: str
    url: str  # every node's address

    @classmethod
    def start(cls, service: str) -> Cluster:
        return cls(service, _services("start", service))

    def leader(self, name: str) -> int:
        """The node leading quorum queue `name` (RabbitMQ) or topic `name`'s partition 0."""
        return int(_services("leader", self.service, name))

    def kill(self, node: int) -> None:
        _services("kill", self.service, str(node))

    def revive(self, node: int) -> None:
        _services("revive", self.service, str(node))

    def stop(self) -> None:
        _services("stop", self.service)
