"""broker=db: the outbox table is the queue. Workers claim due rows under a lease.

A claimed row carries `lease_until`; a worker that dies leaves it, and once the lease
has passed the row is due again for any worker. SQLite serialises the claim with
BEGIN IMMEDIATE; PostgreSQL with FOR UPDATE SKIP LOCKED, so many workers claim
different rows at once. On PostgreSQL workers also LISTEN for the NOTIFY that each
enqueue sends at commit; NOTIFY is not durable, so polling stays as the fallback.
SQLite has no NOTIFY: workers read `PRAGMA data_version` (which changes when another
connection commits, and costs no lock) every few milliseconds, and claim only then.
A database outage pauses claiming with backoff; it never ends the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from sqlalchemy import CursorResult, Row, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.brokers.base import Ack, Dead, Handler, Message, Outcome, RetryAt
from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS, DB_TIMEOUT_SECONDS, asyncpg_dsn
from regmail.db.group_commit import GroupCommit
from regmail.db.tables import outbox
from regmail.outbox.enqueue import OUTBOX_CHANNEL, enqueue_outbox_rows

log = structlog.get_logger(__name__)

MAX_OUTAGE_BACKOFF_SECONDS = 5.0
SQLITE_WATCH_SECONDS = 0.02


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    message: Message


class DbBroker:
    name = "db"
    counts_redeliveries = True

    def __init__(
        self,
        engine: AsyncEngine,
        lease_seconds: float,
        poll_seconds: float,
        writes: GroupCommit | None = None,
    ) -> None:
        self._engine = engine
        self._writes = writes or GroupCommit(engine)
        self._lease = timedelta(seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def publish(self, messages: Sequence[Message]) -> None:
        async with self._engine.begin() as conn:
            for m in messages:
                await enqueue_outbox_rows(conn, [(m.mail_id, m.key)], utcnow(), m.trace)
        self.wake()

    async def consume(self, handler: Handler, concurrency: int, stop: asyncio.Event) -> None:
        watch = {"postgresql": self._listen_once, "sqlite": self._watch_sqlite_once}
        once = watch.get(self._engine.dialect.name)
        listener = asyncio.create_task(self._watch(once, stop)) if once else None
        try:
            await self._consume(handler, concurrency, stop)
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _consume(self, handler: Handler, concurrency: int, stop: asyncio.Event) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        try:
            await self._claim_loop(handler, concurrency, stop, in_flight)
        except asyncio.CancelledError:
            # Cancelled, the consumer stops as a killed one would: nothing more is settled,
            # and its leases run out.
            for task in in_flight:
                task.cancel()
            raise
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _claim_loop(
        self,
        handler: Handler,
        concurrency: int,
        stop: asyncio.Event,
        in_flight: set[asyncio.Task[None]],
    ) -> None:
        failures = 0
        while not stop.is_set():
            free = concurrency - len(in_flight)
            try:
                claimed = await self._claim(free) if free > 0 else []
            except DATABASE_ERRORS as error:
                failures += 1
                if failures == 1:
                    log.warning("database_unavailable", error=repr(error))
                backoff = min(self._poll_seconds * 2**failures, MAX_OUTAGE_BACKOFF_SECONDS)
                await self._idle(stop, backoff)
                continue
            if failures:
                log.info("database_available", after_failures=failures)
                failures = 0
            for item in claimed:
                task = asyncio.create_task(self._run(handler, item))
                in_flight.add(task)
                task.add_done_callback(self._on_done(in_flight))
            if claimed and len(claimed) == free:
                continue  # a full batch: there may be more due right now
            await self._idle(stop, self._poll_seconds)

    def _on_done(self, in_flight: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            self._wakeup.set()  # a slot is free

        return done

    async def _idle(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.create_task(self._wakeup.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        for waiter in waiters:
            waiter.cancel()
        self._wakeup.clear()

    async def _watch(
        self, once: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Run a wake-up source until `stop`; reconnect when its connection drops
        (polling covers the gap)."""
        while not stop.is_set():
            try:
                await once(stop)
            except (*DATABASE_ERRORS, sqlite3.Error):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), MAX_OUTAGE_BACKOFF_SECONDS)

    async def _listen_once(self, stop: asyncio.Event) -> None:
        """PostgreSQL: wake on the NOTIFY each enqueue sends at commit."""
        conn = await asyncpg.connect(asyncpg_dsn(self._engine), timeout=DB_TIMEOUT_SECONDS)
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(OUTBOX_CHANNEL, lambda *_: self._wakeup.set())
            self._wakeup.set()  # whatever was committed while nobody listened
            waiters = [asyncio.create_task(lost.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()
        finally:
            conn.terminate()

    async def _watch_sqlite_once(self, stop: asyncio.Event) -> None:
        """SQLite: wake when another connection (an API process, say) has committed."""
        async with self._engine.connect() as conn:
            # The driver's own connection: through SQLAlchemy every statement would
            # begin a transaction, and ours begin IMMEDIATE (the write lock).
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            seen = None
            while not stop.is_set():
                async with driver.execute("PRAGMA data_version") as cursor:
                    version = (await cursor.fetchone())[0]
                if version != seen:
                    seen = version
                    self._wakeup.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SQLITE_WATCH_SECONDS)

    async def _claim(self, limit: int) -> list[_Claimed]:
        now = utcnow()
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.status == "ready",
                outbox.c.available_at <= now,
                or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
            )
            .order_by(outbox.c.available_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(lease_until=now + self._lease, deliveries=outbox.c.deliveries + 1)
            .returning(
                outbox.c.id, outbox.c.mail_id, outbox.c.key, outbox.c.deliveries, outbox.c.trace
            )
        )
        rows = await self._writes.run(lambda conn: _all(conn.execute(claim)))
        return [
            _Claimed(r.id, Message(r.mail_id, r.key, r.deliveries, r.trace or "")) for r in rows
        ]

    async def _run(self, handler: Handler, item: _Claimed) -> None:
        try:
            outcome = await handler(item.message)
        except Exception:
            # Leave the lease in place: the row is due again when it expires, as after a crash.
            log.exception("handler_failed", mail_id=item.message.mail_id)
            return
        try:
            await self._settle(item.row_id, outcome)
        except DATABASE_ERRORS as error:
            # The outcome is on the mail's row already; the row comes back after its lease
            # and is then acknowledged without a second send.
            log.warning("settle_failed", mail_id=item.message.mail_id, error=repr(error))

    async def _settle(self, row_id: int, outcome: Outcome) -> None:
        await self._writes.add(_settle_batch, (row_id, outcome))

    async def prepare(self) -> None:
        pass  # the migrations create the outbox table

    async def ready(self) -> bool:
        return True  # the database is the broker: /readyz checks it already

    async def backlog(self) -> int | None:
        return None  # the outbox gauges are this broker's backlog

    async def probe(self) -> str:
        return "the database is the queue (broker=db)"

    async def close(self) -> None:
        pass


# Built once, executed with parameters (see worker.py).
_ACKED = delete(outbox).where(outbox.c.id.in_(bindparam("b_ids", expanding=True)))
_LATER = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(available_at=bindparam("b_when"), lease_until=None)
)
_DEAD = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(status="dead", dead_reason=bindparam("b_reason"), lease_until=None)
)


async def _settle_batch(
    conn: AsyncConnection, settled: Sequence[tuple[int, Outcome]]
) -> list[None]:
    """Acked rows go in one DELETE; the others in one executemany per kind."""
    acked = [row_id for row_id, outcome in settled if isinstance(outcome, Ack)]
    later = [{"b_id": row_id, "b_when": outcome.when}
             for row_id, outcome in settled if isinstance(outcome, RetryAt)]  # fmt: skip
    dead = [{"b_id": row_id, "b_reason": outcome.reason}
            for row_id, outcome in settled if isinstance(outcome, Dead)]  # fmt: skip
    if acked:
        await conn.execute(_ACKED, {"b_ids": acked})
    if later:
        await conn.execute(_LATER, later)
    if dead:
        await conn.execute(_DEAD, dead)
    return [None] * len(settled)


async def _all(result: Awaitable[CursorResult[Any]]) -> Sequence[Row[Any]]:
    return (await result).all()
