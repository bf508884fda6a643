"""The PostgreSQL pool pings a connection only after it sat idle (db/engine.py
ping_when_idle): one cut while idle is replaced unseen; one cut while in use fails its own
statement once, and the pool reconnects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from regmail.db.engine import create_engine, ping_when_idle
from tests.support.service import make_settings

IDLE_SECONDS = 0.5


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def engine(postgres_url: str, clock: Clock) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgres_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, IDLE_SECONDS, clock)
    yield engine
    await engine.dispose()


def count_pings(engine: AsyncEngine) -> list[object]:
    pings: list[object] = []
    ping: Callable[[object], bool] = engine.dialect.do_ping

    def counted(connection: object) -> bool:
        pings.append(connection)
        return ping(connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(postgres_url: str, pid: int) -> None:
    other = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with other.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_back_a_moment_ago_is_not_pinged(
    engine: AsyncEngine, clock: Clock
) -> None:
    pings = count_pings(engine)
    first = await backend_pid(engine)  # a new connection: never pinged
    clock.now += IDLE_SECONDS / 2
    assert await backend_pid(engine) == first
    assert pings == []
    clock.now += IDLE_SECONDS
    assert await backend_pid(engine) == first
    assert len(pings) == 1


async def test_a_connection_cut_while_idle_is_replaced_unseen(
    engine: AsyncEngine, clock: Clock, postgres_url: str
) -> None:
    first = await backend_pid(engine)
    await terminate(postgres_url, first)
    clock.now += IDLE_SECONDS
    second = await backend_pid(engine)  # no error: the ping found it cut
    assert second != first


async def test_a_connection_cut_a_moment_ago_fails_once_then_the_pool_reconnects(
    engine: AsyncEngine, postgres_url: str
) -> None:
    first = await backend_pid(engine)
    await terminate(postgres_url, first)
    with pytest.raises(DBAPIError) as failed:
        await backend_pid(engine)
    assert failed.value.connection_invalidated
    assert await backend_pid(engine) != first


async def test_the_service_engine_pings_by_idleness_not_on_every_checkout(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = create_engine(make_settings(tmp_path, database_url=postgres_url))
    try:
        pings = count_pings(engine)
        for _ in range(3):
            await backend_pid(engine)
        assert pings == []
    finally:
        await engine.dispose()
