"""Group commit on a real SQLite file: shared transactions, isolated failures."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from regmail.db.group_commit import GroupCommit


@pytest.fixture
async def engine(tmp_path: Path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    yield engine
    await engine.dispose()


def insert(n: int):
    async def work(conn: AsyncConnection) -> int:
        await conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
        rows = await conn.execute(text("SELECT count(*) FROM t"))
        return int(rows.scalar_one())

    return work


async def count(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_concurrent_writes_share_transactions_and_all_commit(engine) -> None:
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    writes = GroupCommit(engine, max_batch=40)
    seen = await asyncio.gather(*(writes.run(insert(n)) for n in range(100)))
    assert await count(engine) == 100
    assert sorted(seen) == list(range(1, 101))
    assert len(commits) == 3  # 40 + 40 + 20, not 100


async def test_a_lone_write_commits_at_once(engine) -> None:
    writes = GroupCommit(engine)
    assert await writes.run(insert(7)) == 1
    assert await count(engine) == 1


async def test_a_failing_write_fails_alone(engine) -> None:
    writes = GroupCommit(engine)
    works = [insert(1), insert(2), insert(1), insert(3)]  # the second 1 breaks the key
    results = await asyncio.gather(*(writes.run(w) for w in works), return_exceptions=True)
    assert [isinstance(r, Exception) for r in results] == [False, False, True, False]
    assert await count(engine) == 3


async def test_a_single_failing_write_raises_its_error(engine) -> None:
    writes = GroupCommit(engine)
    await writes.run(insert(1))
    with pytest.raises(Exception, match="UNIQUE"):
        await writes.run(insert(1))
    assert await count(engine) == 1
