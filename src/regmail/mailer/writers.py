"""Writing a queued mail's rows through whatever connection the application holds: a
SQLAlchemy Connection or Session, Django's connection, or a DB-API connection (sqlite3,
psycopg 3, psycopg2). Each runs the same statements (db/tables.py), compiled for its
driver, in the caller's transaction; none commits."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import psycopg, psycopg2
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from regmail.db.tables import mails, metadata, outbox, suppressions
from regmail.mails.outbox import NOTIFY
from regmail.mails.queue import QueuedRows
from regmail.mails.suppressions import suppression_of


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
        suppressed = suppression_of(rows.mail["recipient"])
        if rows.suppressible and self._conn.execute(suppressed).first() is not None:
            return None
        self._conn.execute(insert(mails).values(rows.mail))
        self._conn.execute(insert(outbox).values(rows.outbox))
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text(NOTIFY))
        return rows.mail_id


class CursorWriter:
    """A DB-API cursor of the application's connection: the statements compiled for its
    driver (`dialect`: its SQL, placeholders and value conversions), once per process."""

    def __init__(self, cursor: Callable[[], Any], dialect: str) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def write(self, rows: QueuedRows) -> str | None:
        with closing(self._cursor()) as cursor:
            if rows.suppressible:
                suppressed = _suppressed(self._dialect)
                address = {"value": rows.mail["recipient"].lower()}
                cursor.execute(suppressed.sql, suppressed.params(address))
                if cursor.fetchone() is not None:
                    return None
            for table, values in ((mails, rows.mail), (outbox, rows.outbox)):
                statement = _insert(self._dialect, table.name, tuple(values))
                cursor.execute(statement.sql, statement.params(values))
            if _dialect(self._dialect).name == "postgresql":
                cursor.execute(NOTIFY)
        return rows.mail_id


@dataclass(frozen=True)
class _Statement:
    """SQL for one driver, and how to turn values into its parameters, in order."""

    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]  # name, default, convert

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, convert in self.binds:
            value = values.get(name, default)
            out.append(convert(value) if convert is not None else value)
        return out


_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "sqlite3": lambda: pysqlite.dialect(paramstyle="qmark"),
    "django-sqlite": lambda: pysqlite.dialect(paramstyle="format"),  # Django's cursors: %s
    "psycopg": lambda: psycopg.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
    "psycopg2": lambda: psycopg2.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
}


@functools.cache
def _dialect(name: str) -> Dialect:
    return _DIALECTS[name]()


@functools.cache
def _insert(dialect_name: str, table_name: str, given: tuple[str, ...]) -> _Statement:
    """INSERT of `given` columns, plus those SQLAlchemy would fill in (`default=0`)."""
    dialect, table = _dialect(dialect_name), metadata.tables[table_name]
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if isinstance(column.default, ScalarElementColumnDefault) and column.name not in given
    }
    names = [*given, *defaults]
    statement = insert(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in names}
    )
    compiled = statement.compile(dialect=dialect)
    return _Statement(
        compiled.string,
        tuple(
            (name, defaults.get(name), _converter(table.c[name].type, dialect))
            for name in compiled.positiontup or []
        ),
    )


@functools.cache
def _suppressed(dialect_name: str) -> _Statement:
    dialect, column = _dialect(dialect_name), suppressions.c.address
    statement = select(column).where(column == bindparam("value", type_=column.type))
    compiled = statement.compile(dialect=dialect)
    return _Statement(compiled.string, (("value", None, _converter(column.type, dialect)),))


def _converter(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The value as the driver takes it (a datetime, JSON), by the column's type."""
    convert: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    return convert


def _sqlite3(conn: sqlite3.Connection) -> CursorWriter:
    autocommit = conn.isolation_level is None or getattr(conn, "autocommit", None) is True
    if autocommit and not conn.in_transaction:
        raise NotInTransaction("this sqlite3 connection is in autocommit mode: BEGIN first")
    return CursorWriter(conn.cursor, "sqlite3")


def _psycopg(conn: Any) -> CursorWriter:
    if conn.autocommit and conn.info.transaction_status == 0:  # IDLE: nothing begun
        raise NotInTransaction("this psycopg connection is in autocommit mode: use transaction()")
    return CursorWriter(conn.cursor, "psycopg")


def _psycopg2(conn: Any) -> CursorWriter:
    if conn.autocommit and conn.get_transaction_status() == 0:  # IDLE
        raise NotInTransaction("this psycopg2 connection is in autocommit mode: BEGIN first")
    return CursorWriter(conn.cursor, "psycopg2")


def _django(conn: Any) -> CursorWriter:
    """django.db.connection (or connections[alias]), inside transaction.atomic()."""
    if not conn.in_atomic_block:
        raise NotInTransaction("queue the mail inside transaction.atomic(), with its change")
    if conn.vendor == "sqlite":
        return CursorWriter(conn.cursor, "django-sqlite")
    if conn.vendor == "postgresql":
        return CursorWriter(
            conn.cursor, "psycopg" if conn.Database.__name__ == "psycopg" else "psycopg2"
        )
    raise TypeError(f"regmail's tables live in SQLite or PostgreSQL, not {conn.vendor}")
