"""The PostgreSQL server for tests: started by scripts/services, or given by URL.

REGMAIL_TEST_POSTGRES_URL=postgresql+asyncpg://user:pass@host:port/db targets an existing
server; otherwise `scripts/services start postgres` runs the project's own. Each test gets
a database of its own, dropped afterwards.
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
class PostgresServer:
    url: str  # SQLAlchemy URL of the server's maintenance database
    managed: bool  # started by scripts/services, so tests may stop and start it

    @classmethod
    def find_or_start(cls) -> PostgresServer:
        given = os.environ.get("REGMAIL_TEST_POSTGRES_URL")
        if given:
            return cls(given, managed=False)
        return cls(_services("start"), managed=True)

    def stop(self) -> None:
        self._require_managed()
        _services("stop")

    def start(self) -> None:
        self._require_managed()
        assert _services("start") == self.url, "the restarted server moved to another port"

    def _require_managed(self) -> None:
        if not self.managed:
            raise AssertionError(
                "this test stops and starts PostgreSQL: run it with the server of "
                "scripts/services (unset REGMAIL_TEST_POSTGRES_URL)"
            )

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


def _services(action: str) -> str:
    done = subprocess.run(
        [str(SERVICES), action, "postgres"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/services {action} postgres failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
