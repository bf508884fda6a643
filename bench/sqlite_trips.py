"""What a sign-up's SQLite transaction costs the API through SQLAlchemy's own aiosqlite
adapter (four trips to aiosqlite's thread a statement) and through regmail's
(db/sqlite_driver.py: one trip a statement at most; a brief transaction's statements after
its first, the one that takes the write lock, run on the event loop's thread).

    .venv/bin/python bench/sqlite_trips.py [--signups 2000] [--repeat 5]

Real sign-ups (SignUp.register: the transaction, its token, mail and outbox rows) on a
fresh SQLite file each run, one at a time (real ones, spaced by their hashes, seldom
overlap; several at once would time SQLite's busy handler), with argon2 made cheap so
the database path is what is timed. Prints the median µs of wall time and of the
process's CPU (every thread) a sign-up, and the thread trips a sign-up makes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

from regmail.accounts.addresses import parse_address
from regmail.db import engine as engine_module
from regmail.db.migrate import migrate
from regmail.logs import configure_logging
from regmail.runtime import Runtime
from tests.support.service import PASSWORD, make_settings
from tests.support.sqlite_trips import counted_trips


def _stock() -> AsyncAdapt_aiosqlite_dbapi:
    return AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)


async def _run(signups: int, stock: bool) -> tuple[float, float, float]:
    """(wall µs, CPU µs, trips) a sign-up."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), argon2_memory_kib=8, argon2_time_cost=1)
        stock_driver = mock.patch.object(engine_module, "OneTripDBAPI", _stock)
        with stock_driver if stock else contextlib.nullcontext():
            runtime = Runtime.build(settings)
        signup = runtime.accounts.signup
        try:
            await migrate(runtime.engine)

            async def one() -> None:
                address = parse_address(f"b-{uuid.uuid4().hex}@example.com")
                await signup.register(address, PASSWORD, "en")

            with counted_trips() as trips:
                start, cpu = time.perf_counter(), time.process_time()
                for _ in range(signups):
                    await one()
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        finally:
            await runtime.close()
    return wall / signups * 1e6, cpu / signups * 1e6, len(trips) / signups


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configure_logging("warning")  # as bench/run's services: no line a sign-up
    runs: dict[str, list[tuple[float, float, float]]] = {"stock": [], "regmail": []}
    for _ in range(args.repeat):
        runs["stock"].append(await _run(args.signups, stock=True))
        runs["regmail"].append(await _run(args.signups, stock=False))
    medians = {
        name: [statistics.median(run[i] for run in figures) for i in range(3)]
        for name, figures in runs.items()
    }
    for name, (wall, cpu, trips) in medians.items():
        print(f"{name:>9}: {wall:6,.0f} µs a sign-up, {cpu:6,.0f} µs of CPU, {trips:4.1f} trips")
    stock, ours = medians["stock"], medians["regmail"]
    print(f"stock ÷ regmail: wall {stock[0] / ours[0]:.2f}×, CPU {stock[1] / ours[1]:.2f}×")


if __name__ == "__main__":
    asyncio.run(main())
