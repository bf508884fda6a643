"""Schema migrations (Alembic), run from the program rather than an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.db.legacy import adopt_unprefixed
from regmail.db.tables import VERSION_TABLE

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    def upgrade(connection: Connection) -> None:
        adopt_unprefixed(connection)
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def schema_revisions(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """(the database's schema revision, the one this code expects): equal when migrated."""

    def current(connection: Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    async with engine.connect() as connection:
        found = await connection.run_sync(current)
    return found, ScriptDirectory.from_config(alembic_config()).get_current_head()
