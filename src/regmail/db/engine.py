"""Engine creation, with the SQLite settings a multi-process queue needs."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import InvalidatePoolError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from regmail.db.sqlite_driver import OneTripDBAPI, begin_on
from regmail.extras import load
from regmail.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "regmail_read_only"  # an execution option: see readonly()
BRIEF = "regmail_brief"  # an execution option: see brief()
DB_TIMEOUT_SECONDS = 5.0
# A connection back in the pool for less than this is handed out unpinged: HikariCP's
# aliveBypassWindowMs, and its default.
PING_AFTER_IDLE_SECONDS = 0.5
_RETURNED_AT = "regmail_returned_at"  # in a pooled connection's info: see ping_when_idle()


# What a database that is down, restarting or locked raises, whichever layer notices.
def _postgres_errors() -> tuple[type[Exception], ...]:
    try:
        import asyncpg
    except ImportError:  # no PostgreSQL driver: none of its errors can happen
        return ()
    # InterfaceError: a connection closed under the driver (the rate limits use it raw).
    # InternalClientError: a connection left mid-operation when its server died ("cannot
    # switch to state"), or every host of a multi-host URL up and none writable (a
    # failover before its promotion: TargetServerAttributeNotMatched).
    return (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    OSError,
    TimeoutError,
    *_postgres_errors(),
)


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        _create_private(make_url(url).database)
        engine = create_async_engine(
            url, module=OneTripDBAPI(), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _configure_sqlite(engine)
        return engine
    load("asyncpg", "postgres")
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        # A database that is down must give a quick, clean error, never a hang.
        pool_timeout=DB_TIMEOUT_SECONDS,
        connect_args={"timeout": DB_TIMEOUT_SECONDS, "command_timeout": 30},
    )
    ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_when_idle(
    engine: AsyncEngine, idle_seconds: float, clock: Callable[[], float] = time.monotonic
) -> None:
    """Ping a pooled connection before handing it out only when it sat idle `idle_seconds`
    or more: what pool_pre_ping does on every checkout, a round trip that was 3 of a
    sign-up's 15 on PostgreSQL. A connection idle that long may have been cut (a restart,
    a failover, a proxy's idle timeout) and is replaced unseen; one in use a moment ago
    that fails anyway fails its request (a clean 503) and has the pool reconnect the rest.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = clock()

    @event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)  # None: a new connection
        if returned_at is None or clock() - returned_at < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # As pool_pre_ping: what cut this connection cut the pool's others too.
            raise InvalidatePoolError(f"ping failed: {error}") from error


def _create_private(database: str | None) -> None:
    """The SQLite file created mode 0600 before SQLite creates it 0644: it holds password
    hashes and sealed tokens. SQLite gives its -wal and -shm files the same mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def readonly(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for transactions that only read: on SQLite they take no
    write lock, so a read (a made-up token's look-up, say) never waits behind a writer."""
    return engine.execution_options(**{READ_ONLY: True})


def brief(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for brief transactions: a few statements of a row or two,
    as a sign-up's. On SQLite, once such a transaction holds the write lock, its statements
    run on the event loop's thread, with no trip to the driver's (db/sqlite_driver.py); a
    transaction that may touch many rows must not be brief: it would hold the loop."""
    return engine.execution_options(**{BRIEF: True})


def one_write(engine: AsyncEngine) -> AsyncEngine:
    """For transactions that read and then write in one statement (a sign-up on
    PostgreSQL: db/carried.py). On PostgreSQL in autocommit: under READ COMMITTED every
    statement of a transaction reads its own snapshot anyway, and reads take no locks, so
    reads and one write are the same transaction without BEGIN and COMMIT, two round trips
    fewer. Elsewhere the engine for brief transactions (SQLite's writes are statements of
    their own)."""
    if engine.dialect.name != "postgresql":
        return brief(engine)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def asyncpg_connect_args(engine: AsyncEngine) -> dict[str, Any]:
    """asyncpg.connect's arguments for the engine's own server (for LISTEN): as the
    dialect reads the URL, so a multi-host URL (`?host=a:5432&host=b:5432`) and
    `target_session_attrs` reach the same primary the engine's connections do."""
    _, args = engine.dialect.create_connect_args(engine.url)
    return {k: v for k, v in args.items() if k not in _SQLALCHEMY_ONLY_ARGS}


# Options of SQLAlchemy's asyncpg dialect itself, not of asyncpg.connect.
_SQLALCHEMY_ONLY_ARGS = {"prepared_statement_cache_size", "prepared_statement_name_func"}


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        # SQLite has one writer. Taking the write lock at BEGIN means a transaction waits
        # (busy_timeout) instead of failing with SQLITE_BUSY when it upgrades a read lock.
        # A transaction that only reads (`readonly`) needs no lock: WAL lets it run beside
        # the writer.
        options = conn.get_execution_options()
        read_only = options.get(READ_ONLY, False)
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        brief = options.get(BRIEF, False) and not read_only
        if not begin_on(conn.connection.dbapi_connection, begin, brief):
            conn.exec_driver_sql(begin)  # SQLAlchemy's own adapter (bench/sqlite_trips.py)
