"""Writing a queued mail's rows through whatever connection the application holds: a
SQLAlchemy Connection or Session, Django's connection, or a DB-API connection (sqlite3,
psycopg 3, psycopg2). Each runs the same statements (db/tables.py), compiled for its
driver, in the caller's transaction; none commits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any, Protocol

from sqlalchemy import Connection, Table, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import psycopg, psycopg2
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from regmail.db.tables import mails, outbox, suppressions
from regmail.mails.outbox import NOTIFY
from regmail.mails.queue import QueuedRows


class NotInTransaction(RuntimeError):
    """The connection commits each statement by itself: the mail would not share the fate
    of the change it reports."""


class Writer(Protocol):
    def write(self, rows: QueuedRows) -> str | None: ...


def writer_for(connection: Any) -> Writer:
    """The writer for the application's connection, or TypeError naming what is accepted."""
    if isinstance(connection, Session):
        return CoreWriter(connection.connection())
    if isinstance(connection, Connection):
        return CoreWriter(connection)
    module = type(connection).__module__
    if module.startswith("django."):
        return _django(connection)
    if isinstance(connection, sqlite3.Connection):
        return _sqlite3(connection)
    if module.startswith("psycopg2"):
        return _psycopg2(connection)
    if module.startswith("psycopg"):
        return _psycopg(connection)
    raise TypeError(
        f"cannot queue on a {module}.{type(connection).__name__}: give a SQLAlchemy "
        "Connection or Session, django.db.connection, or a sqlite3 or psycopg connection"
    )


class CoreWriter:
    """SQLAlchemy's own Connection (a Session's too): its dialect does the rest."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def write(self, rows: QueuedRows) -> str | None:
        address = rows.mail["recipient"].lower()
        suppressed = select(suppressions.c.address).where(suppressions.c.address == address)
        if rows.suppressible and self._conn.execute(suppressed).first() is not None:
            return None
        self._conn.execute(insert(mails).values(rows.mail))
        self._conn.execute(insert(outbox).values(rows.outbox))
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text(NOTIFY))
        return rows.mail_id


class CursorWriter:
    """A DB-API cursor of the application's connection: the statements compiled for its
    driver (`dialect`: its SQL, placeholders and value conversions)."""

    def __init__(self, cursor: Callable[[], Any], dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def write(self, rows: QueuedRows) -> str | None:
        with closing(self._cursor()) as cursor:
            if rows.suppressible:
                cursor.execute(*self._suppressed(rows.mail["recipient"].lower()))
                if cursor.fetchone() is not None:
                    return None
            cursor.execute(*self._insert(mails, rows.mail))
            cursor.execute(*self._insert(outbox, rows.outbox))
            if self._dialect.name == "postgresql":
                cursor.execute(NOTIFY)
        return rows.mail_id

    def _insert(self, table: Table, given: dict[str, Any]) -> tuple[str, Sequence[Any]]:
        defaults = {  # what SQLAlchemy would fill in (`default=0`), filled in here
            column.name: column.default.arg
            for column in table.columns
            if isinstance(column.default, ScalarElementColumnDefault)
        }
        values = defaults | given
        statement = insert(table).values(
            {name: bindparam(name, type_=table.c[name].type) for name in values}
        )
        return self._compiled(statement, values, table)

    def _suppressed(self, address: str) -> tuple[str, Sequence[Any]]:
        column = suppressions.c.address
        statement = select(column).where(column == bindparam("address", type_=column.type))
        return self._compiled(statement, {"address": address}, suppressions)

    def _compiled(
        self, statement: Any, values: dict[str, Any], table: Table
    ) -> tuple[str, Sequence[Any]]:
        compiled = statement.compile(dialect=self._dialect)
        names = compiled.positiontup or []
        return compiled.string, [self._bound(table, name, values[name]) for name in names]

    def _bound(self, table: Table, name: str, value: Any) -> Any:
        """The value as the driver takes it (a datetime, JSON), by the column's type."""
        column_type = table.c[name].type if name in table.c else table.c.address.type
        process = column_type.dialect_impl(self._dialect).bind_processor(self._dialect)
        return process(value) if process is not None else value


def _sqlite3(conn: sqlite3.Connection) -> CursorWriter:
    autocommit = conn.isolation_level is None or getattr(conn, "autocommit", None) is True
    if autocommit and not conn.in_transaction:
        raise NotInTransaction("this sqlite3 connection is in autocommit mode: BEGIN first")
    return CursorWriter(conn.cursor, pysqlite.dialect(paramstyle="qmark"))


def _psycopg(conn: Any) -> CursorWriter:
    if conn.autocommit and conn.info.transaction_status == 0:  # IDLE: nothing begun
        raise NotInTransaction("this psycopg connection is in autocommit mode: use transaction()")
    return CursorWriter(conn.cursor, _postgresql(psycopg))


def _psycopg2(conn: Any) -> CursorWriter:
    if conn.autocommit and conn.get_transaction_status() == 0:  # IDLE
        raise NotInTransaction("this psycopg2 connection is in autocommit mode: BEGIN first")
    return CursorWriter(conn.cursor, _postgresql(psycopg2))


def _postgresql(driver: Any) -> Dialect:
    dialect: Dialect = driver.dialect(paramstyle="format")  # %s placeholders
    return dialect


def _django(conn: Any) -> CursorWriter:
    """django.db.connection (or connections[alias]), inside transaction.atomic()."""
    if not conn.in_atomic_block:
        raise NotInTransaction("queue the mail inside transaction.atomic(), with its change")
    if conn.vendor == "sqlite":
        dialect: Dialect = pysqlite.dialect(paramstyle="format")  # Django's cursors take %s
    elif conn.vendor == "postgresql":
        dialect = _postgresql(psycopg if conn.Database.__name__ == "psycopg" else psycopg2)
    else:
        raise TypeError(f"regmail's tables live in SQLite or PostgreSQL, not {conn.vendor}")
    return CursorWriter(conn.cursor, dialect)
