"""Counting trips to aiosqlite's threads (db/sqlite_driver.py's point), for its unit test
and bench/sqlite_trips.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import aiosqlite


@contextmanager
def counted_trips() -> Iterator[list[object]]:
    """Each function queued to any aiosqlite connection's thread inside the block."""
    calls: list[object] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *a: object, **kw: object) -> object:
        calls.append(fn)
        return await original(self, fn, *a, **kw)  # type: ignore[no-untyped-call]

    with mock.patch.object(aiosqlite.Connection, "_execute", counted):
        yield calls
