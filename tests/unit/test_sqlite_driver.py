"""db/sqlite_driver.py: a statement is one trip to aiosqlite's thread, and SQLAlchemy sees
what its own adapter would have shown it (rows, rowcount, lastrowid, RETURNING, errors)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.db.engine import brief, create_engine, readonly
from tests.support.service import make_settings
from tests.support.sqlite_trips import counted_trips


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings(tmp_path))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def trips() -> Iterator[list[object]]:
    with counted_trips() as calls:
        yield calls


async def _pool_ready(engine: AsyncEngine, trips: list[object]) -> None:
    """The pool's connection made and checked, and the trips that took forgotten."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    trips.clear()


async def test_a_query_is_one_trip(engine: AsyncEngine, trips: list[object]) -> None:
    async with readonly(engine).connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's connection made and checked
        trips.clear()
        rows = (await conn.execute(text("SELECT 1 AS a, 'x' AS b"))).all()
        assert len(trips) == 1  # SQLAlchemy's own adapter: cursor, execute, fetch, close
    assert [tuple(row) for row in rows] == [(1, "x")]


async def test_a_brief_transaction_holding_the_write_lock_makes_no_trip_a_statement(
    engine: AsyncEngine, trips: list[object]
) -> None:
    await _pool_ready(engine, trips)
    with pytest.raises(IntegrityError):
        async with brief(engine).begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
            assert trips == []  # BEGIN IMMEDIATE on the loop too: the lock was free
            inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))
            assert inserted.lastrowid == 2
            query = text("SELECT name FROM t ORDER BY id")
            assert (await conn.execute(query)).scalars().all() == ["a", "b"]
            assert trips == []  # run on the event loop's thread: they cannot wait
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    assert len(trips) == 1  # the ROLLBACK after the error
    trips.clear()
    async with brief(engine).begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('c')"))
        await conn.execute(text("INSERT INTO t (name) VALUES ('d')"))
    assert len(trips) == 1  # COMMIT (it may checkpoint)
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["c", "d"]  # the first transaction's rows rolled back with it


async def test_other_transactions_make_a_trip_a_statement(
    engine: AsyncEngine, trips: list[object]
) -> None:
    """A transaction that may touch many rows stays off the loop; so do the statements of a
    brief connection's next transaction that is not brief."""
    async with brief(engine).begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    trips.clear()
    async with engine.begin() as conn:
        for name in "bcd":
            await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), {"name": name})
    assert len(trips) == 4  # and COMMIT


async def test_a_transaction_that_only_reads_makes_a_trip_a_statement(
    engine: AsyncEngine, trips: list[object]
) -> None:
    """Its BEGIN takes no write lock, so each statement may wait: each goes to the thread."""
    async with readonly(engine).begin() as conn:
        for _ in range(3):
            await conn.execute(text("SELECT count(*) FROM t"))
    assert len(trips) == 4  # and its COMMIT


async def test_a_statement_waiting_for_the_write_lock_leaves_the_event_loop_free(
    engine: AsyncEngine,
) -> None:
    """Two brief writers in one process: the second waits for the lock on aiosqlite's thread, so
    the first, on the same event loop, goes on and commits. (Had the second waited on the
    loop's thread, the first could not commit, and the second would time out.)"""
    first_holds_lock, second_started = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with brief(engine).begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('first')"))
            first_holds_lock.set()
            await second_started.wait()
            await conn.execute(text("INSERT INTO t (name) VALUES ('first, again')"))

    async def second() -> None:
        await first_holds_lock.wait()
        async with brief(engine).connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute("PRAGMA busy_timeout=5000")
            second_started.set()
            async with conn.begin():
                await conn.execute(text("INSERT INTO t (name) VALUES ('second')"))

    await asyncio.wait_for(asyncio.gather(first(), second()), 10)
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["first", "first, again", "second"]


async def test_a_brief_begin_finding_the_lock_held_waits_for_it_on_the_thread(
    engine: AsyncEngine, trips: list[object], tmp_path: Path
) -> None:
    """Tried on the loop with no busy timeout, it is answered "busy" at once; then it waits
    on aiosqlite's thread, under the connection's own busy timeout, unchanged."""
    await _pool_ready(engine, trips)
    holder = sqlite3.connect(tmp_path / "regmail.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    async with brief(engine).connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute("PRAGMA busy_timeout=5000")
        trips.clear()
        async with conn.begin():
            insert = asyncio.ensure_future(conn.execute(text("INSERT INTO t (name) VALUES ('a')")))
            await asyncio.sleep(0)  # one turn of the loop: the INSERT starts, and waits
            assert not insert.done() and len(trips) == 1
            holder.rollback()
            await insert
            await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))
            assert len(trips) == 1  # the lock held now: the next statement on the loop
        async with driver.execute("PRAGMA busy_timeout") as cursor:
            assert await cursor.fetchone() == (5000,)
    holder.close()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 2


async def test_rowcount_lastrowid_and_returning_are_sqlite3s(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
        updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 2
        returned = await conn.execute(text("DELETE FROM t WHERE id > 1 RETURNING name"))
        assert sorted(returned.scalars()) == ["b!", "c!"]
        assert returned.rowcount == 2
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT name FROM t"))).scalars().all() == ["a"]


async def test_sqlite_errors_reach_sqlalchemy_as_its_own(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM missing"))
    async with engine.connect() as conn:  # the pool's connections still work
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1


async def test_a_statement_that_fails_leaves_no_rows_of_the_last(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    async with engine.connect() as conn:
        first = await conn.execute(text("SELECT name FROM t"))
        assert first.scalars().all() == ["a"]
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT nope FROM t"))
        await conn.rollback()
        assert (await conn.execute(text("SELECT id FROM t"))).scalars().all() == [1]


async def test_begin_rides_with_the_first_statement(
    engine: AsyncEngine, trips: list[object]
) -> None:
    await _pool_ready(engine, trips)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    assert len(trips) == 2  # BEGIN IMMEDIATE with the INSERT, then COMMIT (it was 4: and
    # BEGIN alone, and the pool's rollback of the connection it took back)
    trips.clear()
    async with engine.begin() as conn:
        pass
    assert trips == []  # nothing begun in SQLite: nothing to commit


async def test_the_write_lock_is_held_from_the_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT count(*) FROM t"))  # a read, under BEGIN IMMEDIATE
        other = sqlite3.connect(tmp_path / "regmail.db", timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


async def test_a_begin_that_fails_fails_its_statement_and_leaves_the_connection_usable(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    holder = sqlite3.connect(tmp_path / "regmail.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute("PRAGMA busy_timeout=0")  # no BEGIN: SQLAlchemy's unaware
            with pytest.raises(OperationalError, match="locked"):
                async with conn.begin():
                    await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    finally:
        holder.rollback()
        holder.close()
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
