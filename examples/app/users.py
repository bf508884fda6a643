"""The application's own users table, kept in step with regmail by its events.

Events arrive at least once, and in order per account: applying one twice changes nothing
(its id is recorded in the same transaction as its effect).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    account_id   TEXT PRIMARY KEY,  -- regmail's id: the application never sees a password
    email        TEXT NOT NULL,
    activated_at TEXT               -- from account.activated
);
CREATE TABLE IF NOT EXISTS seen_events (id TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class User:
    account_id: str
    email: str
    activated_at: str | None


class Users:
    def __init__(self, path: Path) -> None:
        self._path = path
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10)

    def apply(self, event: dict[str, Any]) -> None:
        """Record one account event (a copy already applied is ignored)."""
        data = event["data"]
        with self._connect() as db:  # one transaction: the effect and the event's id
            if db.execute("INSERT OR IGNORE INTO seen_events VALUES (?)", (event["id"],)).rowcount:
                _apply(db, event["type"], event["timestamp"], data)

    def get(self, account_id: str) -> User | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT account_id, email, activated_at FROM users WHERE account_id = ?",
                (account_id,),
            ).fetchone()
        return User(*row) if row else None


def _apply(db: sqlite3.Connection, kind: str, at: str, data: dict[str, Any]) -> None:
    account_id = data.get("account_id")
    if kind == "account.registered":
        db.execute("INSERT OR IGNORE INTO users VALUES (?, ?, NULL)", (account_id, data["email"]))
    elif kind == "account.activated":
        db.execute(
            "INSERT INTO users VALUES (?, ?, ?) ON CONFLICT (account_id) "
            "DO UPDATE SET email = excluded.email, activated_at = excluded.activated_at",
            (account_id, data["email"], at),
        )
    elif kind == "account.email_changed":
        db.execute("UPDATE users SET email = ? WHERE account_id = ?", (data["email"], account_id))
    elif kind == "account.deleted":
        db.execute("DELETE FROM users WHERE account_id = ?", (account_id,))
