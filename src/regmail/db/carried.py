"""Writes whose result nobody reads, carried by a later statement of their transaction.

On PostgreSQL a carried write becomes a data-modifying WITH of the statement that carries
it (mails/queue.py's: the mail's INSERT, its outbox row and the NOTIFY), so a sign-up's
account, token and mail are one round trip instead of three. PostgreSQL runs every part
of one statement on one snapshot and checks foreign keys at the statement's end, so a
token may name an account written in the same statement; a unique violation fails the
whole statement as it would have failed the write alone. On SQLite, where a statement of a
brief transaction is no trip at all (db/sqlite_driver.py), a carried write simply runs
first, by itself.

Each write's statement is built once by its table's owner with its bound parameters named
`prefix__column`, and the carrying statement names its own the same way (mails/queue.py,
mails/outbox.py): SQLAlchemy adds any execution parameter named as a column of a table
written to that table's INSERT columns or UPDATE's SET, nested ones included (a mail's
`id` once became `SET id = ...` in a pending account's UPDATE). `carrying` refuses a
statement where a bound name meets such a column, when the statement is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, Table, Update, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter

SEPARATOR = "__"


@dataclass(frozen=True)
class Write:
    statement: UpdateBase  # built once: carrying statements are cached by its identity
    values: Mapping[str, Any]  # named as the statement binds them (`bound`)

    async def run(self, conn: AsyncConnection) -> None:
        """The write by itself (where nothing carries it)."""
        await conn.execute(self.statement, self.values)


def insert_bound(table: Table, prefix: str, columns: Iterable[str]) -> Insert:
    """An INSERT of `columns` into `table`, each bound as `prefix__column`."""
    binds = {name: bindparam(bind_name(prefix, name), type_=table.c[name].type) for name in columns}
    return table.insert().values(binds)


def bind_name(prefix: str, name: str) -> str:
    return f"{prefix}{SEPARATOR}{name}"


def bound(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` named as `insert_bound` (or `bind_name`) binds them."""
    return {bind_name(prefix, name): value for name, value in values.items()}


def carrying(statement: Select[Any], writes: Sequence[UpdateBase]) -> Select[Any]:
    """PostgreSQL: `statement` with `writes` run as data-modifying WITHs of it. Cache what
    it returns: a statement built per call costs SQLAlchemy its cache key again (store.py)."""
    carrier = statement.add_cte(*(write.cte(f"carried_{i}") for i, write in enumerate(writes)))
    _refuse_names_of_columns(carrier)
    return carrier


def _refuse_names_of_columns(statement: Select[Any]) -> None:
    """ValueError if a bound name of `statement` is the name of a column of a table it
    writes: SQLAlchemy would write that value into the column too, silently."""
    written: set[str] = set()
    names: set[str] = set()
    for element in visitors.iterate(statement):
        if isinstance(element, Insert | Update):
            written.update(element.table.c.keys())
        elif isinstance(element, BindParameter):
            names.add(element.key)
    if clashes := sorted(names & written):
        raise ValueError(f"bound names that are column names of a written table: {clashes}")


def values_of(writes: Sequence[Write]) -> dict[str, Any]:
    """The bound values of every write, for the statement that carries them."""
    merged: dict[str, Any] = {}
    for write in writes:
        merged |= write.values
    return merged
