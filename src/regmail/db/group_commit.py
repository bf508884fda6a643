"""Group commit: many small writes from concurrent tasks share one transaction.

A worker records a claim, an outcome and a settle for every mail, from dozens of
concurrent sends. One transaction per write means one commit each and, on SQLite, the
process's own connections queueing for the single write lock (the busy handler sleeps).
Here the writes wait in a queue while one transaction is open; the next transaction
takes all of them. Under load the batches grow; alone, a write runs at once.

Writes of one kind go to one `Batch` function, which turns N of them into a few
statements (`UPDATE … WHERE id IN …`, executemany) instead of N round trips.

Every caller still awaits its own commit, so "recorded before acknowledged" holds.
If a batch fails, it is rolled back and each write is run again in a transaction of
its own, so one bad write cannot fail the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item, as in Batch[I, R]
R = TypeVar("R")

# Runs many items of one kind in the open transaction; one result per item, in order.
Batch = Callable[[AsyncConnection, Sequence[I]], Awaitable[Sequence[R]]]
Work = Callable[[AsyncConnection], Awaitable[T]]

MAX_BATCH = 256


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Pending:
    batch: Batch[Any, Any]
    item: Any
    done: asyncio.Future[Any] = field(default_factory=_future)


async def _each(conn: AsyncConnection, works: Sequence[Work[Any]]) -> list[Any]:
    return [await work(conn) for work in works]


class GroupCommit:
    def __init__(self, engine: AsyncEngine, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def run(self, work: Work[T]) -> T:
        """Run `work` inside a transaction shared with other callers; return once committed."""
        result: T = await self.add(_each, work)
        return result

    async def add(self, batch: Batch[I, R], item: I) -> R:
        """Hand `item` to `batch` with the other items of this transaction; its result."""
        pending = _Pending(batch, item)
        self._queue.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # A cancelled caller does not cancel the batch the others wait on.
        result: R = await asyncio.shield(pending.done)
        return result

    async def _flush(self) -> None:
        taken: list[_Pending] = []
        try:
            while self._queue:
                taken = self._queue[: self._max_batch]
                del self._queue[: len(taken)]
                await self._commit(taken)
        except BaseException as error:  # cancelled with the loop: nobody may wait forever
            for pending in taken + self._queue:
                _settle(pending, error=error)
            raise

    async def _commit(self, taken: list[_Pending]) -> None:
        try:
            async with self._engine.begin() as conn:
                results = await _run_grouped(conn, taken)
        except Exception as error:
            if len(taken) == 1:
                _settle(taken[0], error=error)
            else:
                await self._one_by_one(taken)
            return
        for pending, result in zip(taken, results, strict=True):
            _settle(pending, result)

    async def _one_by_one(self, taken: list[_Pending]) -> None:
        for pending in taken:
            try:
                async with self._engine.begin() as conn:
                    (result,) = await pending.batch(conn, [pending.item])
            except Exception as error:
                _settle(pending, error=error)
            else:
                _settle(pending, result)


async def _run_grouped(conn: AsyncConnection, taken: list[_Pending]) -> list[Any]:
    """Each batch function once, over its items in arrival order; results in `taken` order."""
    groups: dict[Batch[Any, Any], list[int]] = {}
    for index, pending in enumerate(taken):
        groups.setdefault(pending.batch, []).append(index)
    results: list[Any] = [None] * len(taken)
    for batch, indexes in groups.items():
        outcomes = await batch(conn, [taken[i].item for i in indexes])
        for index, outcome in zip(indexes, outcomes, strict=True):
            results[index] = outcome
    return results


def _settle(pending: _Pending, result: Any = None, error: BaseException | None = None) -> None:
    if pending.done.done():
        return
    if error is None:
        pending.done.set_result(result)
    elif isinstance(error, asyncio.CancelledError):
        pending.done.cancel()
    else:
        pending.done.set_exception(error)
