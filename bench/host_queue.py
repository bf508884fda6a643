"""What regmail.mailer costs an application's transaction: the application's own INSERT of a
user row alone, beside the same INSERT plus `Mailer.queue` of its mail (sealed, two rows).

    .venv/bin/python bench/host_queue.py [--rows 2000] [--repeat 5] [--postgres URL]

On SQLite (sqlite3, WAL, synchronous=NORMAL as regmail runs it) and, given a URL
(postgresql://…, e.g. `scripts/services url postgres` without `+asyncpg`), on PostgreSQL
(psycopg 3). For each: the median µs of one committed transaction, and mails/s when
`--rows` users and their mails go in one transaction (a batch import). Medians of
`--repeat` runs, each on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.mailer import Mailer
from tests.support.app_kinds import KINDS
from tests.support.service import make_settings

USERS = "CREATE TABLE app_users (id VARCHAR(36) PRIMARY KEY, email VARCHAR(320) NOT NULL)"
INSERT_SQLITE = "INSERT INTO app_users VALUES (?, ?)"
INSERT_POSTGRES = "INSERT INTO app_users VALUES (%s, %s)"
ORDER = {"order": "A1", "items": 2}


def _migrated(url: str, work: Path) -> None:
    async def run() -> None:
        engine = create_engine(make_settings(work, database_url=url))
        await migrate(engine)
        await engine.dispose()

    asyncio.run(run())


def _connect(dsn: str) -> Any:
    if dsn.startswith("postgresql"):
        import psycopg

        return psycopg.connect(dsn)
    import sqlite3

    conn = sqlite3.connect(dsn)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _timed(conn: Any, rows: int, per_transaction: bool, mailer: Mailer | None) -> float:
    """Seconds for `rows` users (and mails), committed each or all at once."""
    sqlite = type(conn).__module__ == "sqlite3"
    insert = INSERT_SQLITE if sqlite else INSERT_POSTGRES
    started = time.perf_counter()
    for n in range(rows):
        email = f"u{n}-{uuid.uuid4().hex[:8]}@example.com"
        conn.execute(insert, (str(uuid.uuid4()), email))
        if mailer is not None:
            mailer.queue(conn, "order_shipped", email, ORDER)
        if per_transaction:
            conn.commit()
    conn.commit()
    return time.perf_counter() - started


def measure(url: str, dsn: Callable[[Path], str], rows: int, repeat: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {k: [] for k in ("alone", "with mail", "batch alone", "batch")}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            db_url = url.format(work=work)
            _migrated(db_url, work)
            mailer = Mailer(make_settings(work, database_url=db_url), KINDS)
            conn = _connect(dsn(work))
            try:
                conn.execute("DROP TABLE IF EXISTS app_users")
                conn.execute(USERS)
                conn.commit()
                found["alone"].append(_timed(conn, rows, True, None) / rows)
                found["with mail"].append(_timed(conn, rows, True, mailer) / rows)
                found["batch alone"].append(rows / _timed(conn, rows, False, None))
                found["batch"].append(rows / _timed(conn, rows, False, mailer))
            finally:
                conn.close()
    return found


def report(engine: str, found: dict[str, list[float]]) -> None:
    alone, mail = statistics.median(found["alone"]), statistics.median(found["with mail"])
    batch_alone, batch = statistics.median(found["batch alone"]), statistics.median(found["batch"])
    print(
        f"{engine}: one transaction {alone * 1e6:.0f} µs → {mail * 1e6:.0f} µs with its mail "
        f"(+{(mail - alone) * 1e6:.0f} µs, ×{mail / alone:.2f}); "
        f"batch {batch_alone:,.0f} users/s → {batch:,.0f} users+mails/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres", help="postgresql://… of a database to use (its tables are replaced)"
    )
    args = parser.parse_args()
    sqlite = measure(
        "sqlite+aiosqlite:///{work}/app.db",
        lambda work: str(work / "app.db"),
        args.rows,
        args.repeat,
    )
    report("SQLite", sqlite)
    if args.postgres:
        url = args.postgres.replace("postgresql://", "postgresql+asyncpg://", 1)
        report("PostgreSQL", measure(url, lambda _: args.postgres, args.rows, args.repeat))


if __name__ == "__main__":
    main()
