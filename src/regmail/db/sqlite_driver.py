"""SQLite through aiosqlite, one trip to its thread a statement.

aiosqlite runs each call on the connection's own thread; SQLAlchemy's adapter makes three
or four calls a statement (open a cursor, execute, fetch the rows if any, close it), each
a wake-up of that thread and then of the event loop. A sign-up's transaction made 29 of
them, and while argon2 keeps both cores busy each is a context switch the API pays for
(bench/README.md, "What moved"; bench/sqlite_trips.py). Here they run as one function on
that thread; what SQLAlchemy reads afterwards (description, rowcount, lastrowid, the rows)
is kept on the adapted cursor.

A transaction's BEGIN (db/engine.py issues it) rides along with its first statement: SQLite
takes the lock at the BEGIN either way, and nothing reaches the database between the two.
A commit or rollback with no transaction open in SQLite (none begun, or the pool's rollback
of a connection given back after its commit) makes no trip.

A brief transaction (db/engine.py's `brief`: a few statements of a row or two, a sign-up's)
runs its statements on the event loop's thread once its BEGIN IMMEDIATE holds SQLite's
write lock: from then on they cannot wait for another connection (in WAL mode only taking
that lock waits), and each takes microseconds on pages the transaction has just read, less
than a trip costs (bench/sqlite_trips.py). Its BEGIN is tried on the loop too, with no
busy timeout: when another connection holds the lock, the BEGIN and the statement carrying
it go to the thread to wait for it there (up to busy_timeout). COMMIT always goes to the
thread: it may checkpoint, and so sync the file. A sign-up: 1 trip. Other transactions (a
purge of a thousand rows, say) keep a trip a statement, so the loop is never held for long.
Connections and errors are SQLAlchemy's own adapter's.
"""

from __future__ import annotations

import collections
import sqlite3
from functools import partial
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# What one statement leaves behind: description, rowcount, lastrowid, rows.
_Done = tuple[Any, int, int | None, list[Any]]
_NOTHING: _Done = (None, -1, None, [])
_LOCKING_BEGINS = frozenset({"BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"})  # take the write lock
_BEGINS = frozenset({"BEGIN", "BEGIN DEFERRED", *_LOCKING_BEGINS})


def _begin_unless_busy(sqlite: sqlite3.Connection, begin: str) -> bool:
    """On the event loop's thread: `begin` if SQLite's write lock is free this instant
    (True), else nothing begun (False: the BEGIN goes to aiosqlite's thread to wait for it).
    The busy timeout is set aside meanwhile, so a held lock is an answer, never a wait."""
    timeout = sqlite.execute("PRAGMA busy_timeout").fetchone()[0]
    sqlite.execute("PRAGMA busy_timeout=0").close()
    try:
        sqlite.execute(begin).close()
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        sqlite.execute(f"PRAGMA busy_timeout={int(timeout)}").close()
    return True


def _execute(
    connection: aiosqlite.Connection,
    begin: str | None,
    operation: str,
    parameters: Any,
    many: bool,
) -> _Done:
    """On aiosqlite's thread: the transaction's BEGIN if it waits for this statement, then
    the whole statement, its cursor closed before returning."""
    if begin is not None:
        connection._conn.execute(begin).close()
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        # Rows first: for a statement with RETURNING, sqlite3 counts rows as they are read.
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_done",)
    _awaitable_cursor_close = False  # no cursor stays open between statements

    def __init__(self, adapt_connection: Any) -> None:
        self._done: _Done = _NOTHING
        super().__init__(adapt_connection)

    def _make_new_cursor(self, connection: Any) -> Any:
        return None  # made, used and closed inside each statement's one trip

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    @property
    def description(self) -> Any:
        return self._done[0]

    @property
    def rowcount(self) -> int:
        return self._done[1]

    @property
    def lastrowid(self) -> int:
        return self._done[2]  # type: ignore[return-value]  # None, as sqlite3's, before any

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: str, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: _OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if operation in _BEGINS and not parameters:
            adapted.pending_begin = operation
            self._done, self._rows = _NOTHING, collections.deque()
            return
        async with adapted._execute_mutex:
            begin, adapted.pending_begin = adapted.pending_begin, None
            if begin in _LOCKING_BEGINS and adapted.brief:
                adapted.write_locked = _begin_unless_busy(connection._conn, begin)
                begin = None if adapted.write_locked else begin
            if begin is None and adapted.on_loop():
                self._done = _execute(connection, None, operation, parameters, many)
            else:
                self._done = await connection._execute(  # type: ignore[no-untyped-call]
                    partial(_execute, connection, begin, operation, parameters, many)
                )
                adapted.write_locked = adapted.write_locked or begin in _LOCKING_BEGINS
        self._rows = collections.deque(self._done[3])


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("brief", "pending_begin", "write_locked")
    _cursor_cls = _OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None  # a BEGIN no statement has carried yet
        self.write_locked = False  # this transaction's BEGIN took the write lock
        self.brief = False  # this transaction is brief (see the top of this file)

    def on_loop(self) -> bool:
        """Whether the next statement runs on the event loop's thread: the transaction is
        brief and holds the write lock (SQLite has not ended it on its own, as it does after
        some errors)."""
        if not (self.brief and self.write_locked):
            return False
        sqlite: sqlite3.Connection | None = self._connection._connection
        return sqlite is not None and sqlite.in_transaction

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def _in_transaction(self) -> bool:
        """Whether SQLite has a transaction open on this connection, forgetting a BEGIN no
        statement carried. Without one, commit and rollback would be trips that do nothing:
        the pool's rollback of every connection it takes back after a commit, say."""
        self.pending_begin, self.write_locked, self.brief = None, False, False
        # sqlite3 reads this flag without the connection's thread; no statement runs on it
        # now: SQLAlchemy ends a transaction between statements. None: closed.
        sqlite: sqlite3.Connection | None = self._connection._connection
        return sqlite is not None and sqlite.in_transaction


def begin_on(dbapi_connection: Any, begin: str, brief: bool) -> bool:
    """Begin a transaction on this connection (SQLAlchemy's "begin" event): its next
    statement carries `begin`. False if the connection is not this driver's: the caller
    runs the BEGIN itself. (Through SQLAlchemy's execute, the BEGIN cost as much CPU as any
    statement only to be set aside here.)"""
    if not isinstance(dbapi_connection, _OneTripConnection):
        return False
    dbapi_connection.pending_begin, dbapi_connection.brief = begin, brief
    return True


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API SQLAlchemy's aiosqlite dialect is given (create_async_engine's `module`)."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> _OneTripConnection:
        # Statements run on the event loop's thread too (see the top of this file); one at a
        # time either way (the adapter's mutex).
        connection = aiosqlite.connect(*arg, **{**kw, "check_same_thread": False})
        connection._thread.daemon = True  # as SQLAlchemy's: a forgotten one never blocks exit
        return _OneTripConnection(self, cast(Any, await_(connection)))
