"""The schema comes from Alembic migrations, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from regmail.db.engine import create_engine
from regmail.db.migrate import alembic_config
from regmail.db.tables import VERSION_TABLE, metadata
from regmail.settings import Settings
from tests.support.processes import settings_env


async def test_regmail_migrate_creates_the_schema_and_is_repeatable(database_url: str) -> None:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    for _ in range(2):  # a second run finds nothing to do
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "regmail", "migrate"],
            env=settings_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "up to date" in done.stdout

    engine = create_engine(settings)
    async with engine.connect() as conn:

        def check(sync_conn) -> tuple[str | None, list, set[str]]:
            context = MigrationContext.configure(sync_conn, opts={"version_table": VERSION_TABLE})
            diff = compare_metadata(context, metadata)
            return context.get_current_revision(), diff, set(inspect(sync_conn).get_table_names())

        revision, diff, tables = await conn.run_sync(check)
    await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision == head
    assert {"regmail_accounts", "regmail_mails", "regmail_outbox", VERSION_TABLE} <= tables
    assert all(t.startswith("regmail_") for t in tables), tables
    assert diff == [], f"migrations and db/tables.py disagree: {diff}"
