"""db/engine.py reads a multi-host PostgreSQL URL as SQLAlchemy's dialect does, so the
LISTEN connection goes where the engine's own connections go."""

from __future__ import annotations

from regmail.db.engine import asyncpg_connect_args, create_engine
from regmail.settings import Settings
from tests.support.service import TEST_DEFAULTS

TWO_HOSTS = (
    "postgresql+asyncpg://regmail:secret@/regmail"
    "?host=db1:5432&host=db2:5433&target_session_attrs=read-write"
)


async def test_a_multi_host_url_gives_asyncpg_every_host_and_the_session_attribute() -> None:
    engine = create_engine(Settings(**{**TEST_DEFAULTS, "database_url": TWO_HOSTS}))
    try:
        args = asyncpg_connect_args(engine)
    finally:
        await engine.dispose()
    assert args == {
        "user": "regmail",
        "password": "secret",
        "database": "regmail",
        "host": ["db1", "db2"],
        "port": [5432, 5433],
        "target_session_attrs": "read-write",
    }


async def test_a_single_host_url_gives_asyncpg_that_host() -> None:
    url = "postgresql+asyncpg://regmail:secret@db1:6432/regmail"
    engine = create_engine(Settings(**{**TEST_DEFAULTS, "database_url": url}))
    try:
        args = asyncpg_connect_args(engine)
    finally:
        await engine.dispose()
    assert (args["host"], args["port"], args["database"]) == ("db1", 6432, "regmail")
