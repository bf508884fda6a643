"""What the rate limits cost one sign-up: its two checks (the client's network, the address
from it, counted together as the API does) against the in-memory store and against
PostgreSQL, where every API process shares the counters.

    .venv/bin/python bench/limiter.py --postgres "$(scripts/services url postgres)" [--signups 2000]

Sign-ups come from `--clients` distinct networks, 8 at a time (as concurrent requests in
one API process would); the figures are the median µs per sign-up of `--repeat` runs,
each on a fresh database, and the ratio to one argon2id hash at OWASP parameters (what a
sign-up costs anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher

from regmail.db.engine import create_engine
from regmail.db.migrate import migrate
from regmail.limits import RateLimits, hit_together
from tests.support.servers import PostgresServer
from tests.support.service import make_settings

CONCURRENCY = 8


async def _per_signup(limits: RateLimits, signups: int, clients: int) -> tuple[float, float]:
    """(wall µs, this process's CPU µs) per sign-up: both of its checks."""

    async def one(n: int) -> None:
        client = f"198.51.{n % clients // 256}.{n % clients % 256}"
        await hit_together((limits.per_client, client), (limits.per_address, f"u{n}|{client}"))

    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, signups, CONCURRENCY):
        await asyncio.gather(*(one(n) for n in range(first, first + CONCURRENCY)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall / signups * 1e6, cpu / signups * 1e6


async def _run(database_url: str, signups: int, clients: int) -> tuple[float, float]:
    settings = make_settings(
        Path("/nonexistent"),
        database_url=database_url,
        signups_per_ip_per_minute=10**6,
        requests_per_address_per_hour=10**6,
    )
    engine = create_engine(settings)
    try:
        await migrate(engine)
        return await _per_signup(RateLimits.build(settings, engine), signups, clients)
    finally:
        await engine.dispose()


def _hash_us() -> float:
    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        hasher.hash("correct horse battery staple")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="postgresql+asyncpg://… server")
    parser.add_argument("--signups", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = PostgresServer("postgres", args.postgres, managed=False)
    figures: dict[str, list[tuple[float, float]]] = {"memory": [], "postgresql": []}
    for _ in range(args.repeat):
        figures["memory"].append(
            await _run("sqlite+aiosqlite:///:memory:", args.signups, args.clients)
        )
        url = await server.create_database()
        try:
            figures["postgresql"].append(await _run(url, args.signups, args.clients))
        finally:
            await server.drop_database(url)
    hash_us = _hash_us()
    print(f"one argon2id hash (OWASP): {hash_us:,.0f} µs")
    for store, runs in figures.items():
        wall = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        print(
            f"{store:>10}: {wall:8,.0f} µs a sign-up, {cpu:6,.0f} µs of the API's CPU "
            f"({wall / hash_us:.1%} / {cpu / hash_us:.1%} of a hash)"
        )


if __name__ == "__main__":
    asyncio.run(main())
