"""Databases migrated before regmail prefixed its tables (schema revisions 0001-0006 in the
shared `alembic_version`): renamed in place, once, in the transaction of the upgrade.

Tables, and the names of their indexes, constraints and sequences, get the prefix; the
revision moves to regmail's own version table, and `alembic_version` is dropped if it held
nothing else. A database is taken for such a one only when `alembic_version` holds one of
those revisions and regmail's `mails` and `outbox` tables are there.
"""

from __future__ import annotations

import re

from sqlalchemy import Column, Connection, MetaData, String, Table, inspect, text

from regmail.db.tables import PREFIX, VERSION_TABLE

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
TABLES = (
    "account_tokens",
    "activation_tokens",
    "address_requests",
    "sign_in_failures",
    "provider_pauses",
    "suppressions",
    "accounts",
    "outbox",
    "mails",
)
_TABLE_IN_NAME = re.compile(rf"(?<![A-Za-z0-9])({'|'.join(TABLES)})(?![A-Za-z0-9])")


def prefixed(name: str) -> str:
    """`fk_mails_account_id_accounts` → `fk_regmail_mails_account_id_regmail_accounts`."""
    return _TABLE_IN_NAME.sub(lambda match: PREFIX + match.group(1), name)


def adopt_unprefixed(conn: Connection) -> None:
    found = set(inspect(conn).get_table_names())
    if VERSION_TABLE in found or "alembic_version" not in found:
        return
    if not {"mails", "outbox"} <= found:
        return  # an application's alembic_version, not regmail's
    versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    ours = [v for v in versions if v in REVISIONS]
    if len(ours) != 1:
        return
    tables = [t for t in TABLES if t in found]
    if conn.dialect.name == "postgresql":
        _rename_postgresql(conn, tables)
    else:
        _rename_sqlite(conn, tables)
    version = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), primary_key=True))
    version.create(conn)
    conn.execute(version.insert().values(version_num=ours[0]))
    conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": ours[0]})
    if len(versions) == 1:
        conn.execute(text("DROP TABLE alembic_version"))


def _rename_postgresql(conn: Connection, tables: list[str]) -> None:
    inspector = inspect(conn)
    for table in tables:
        constraints = [
            inspector.get_pk_constraint(table).get("name"),
            *(u["name"] for u in inspector.get_unique_constraints(table)),
            *(f["name"] for f in inspector.get_foreign_keys(table)),
        ]
        for name in filter(None, constraints):
            conn.execute(
                text(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{name}" TO "{prefixed(name)}"')
            )
        for index in inspector.get_indexes(table):
            if index.get("duplicates_constraint") or not index["name"]:
                continue
            conn.execute(
                text(f'ALTER INDEX "{index["name"]}" RENAME TO "{prefixed(index["name"])}"')
            )
        conn.execute(text(f'ALTER TABLE "{table}" RENAME TO "{PREFIX}{table}"'))
    sequences = inspect(conn).get_sequence_names()
    for sequence in sequences:
        if prefixed(sequence) != sequence:
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RENAME TO "{prefixed(sequence)}"'))


def _rename_sqlite(conn: Connection, tables: list[str]) -> None:
    """SQLite renames tables (and the references to them) but not indexes: those are made
    again under their new names. Constraint names (`uq_accounts_email_key`) stay inside the
    table definitions: nothing refers to them, and renaming one means rebuilding the table,
    which the foreign keys pointing at it forbid inside a transaction."""
    inspector = inspect(conn)
    indexes = {table: inspector.get_indexes(table) for table in tables}
    for table in tables:
        conn.execute(text(f'ALTER TABLE "{table}" RENAME TO "{PREFIX}{table}"'))
    for table, found in indexes.items():
        for index in found:
            name = str(index["name"])
            columns = ", ".join(f'"{c}"' for c in index["column_names"])
            unique = "UNIQUE " if index["unique"] else ""
            conn.execute(text(f'DROP INDEX "{name}"'))
            conn.execute(
                text(f'CREATE {unique}INDEX "{prefixed(name)}" ON "{PREFIX}{table}" ({columns})')
            )
