"""broker=db: the outbox table is the queue. Workers claim due rows under a lease.

A claimed row carries `lease_until`; a worker that dies leaves it, and once the lease
has passed the row is due again for any worker. SQLite serialises the claim with
BEGIN IMMEDIATE; PostgreSQL with FOR UPDATE SKIP LOCKED, so many workers claim
different rows at once. On PostgreSQL workers also LISTEN for the NOTIFY that each
enqueue sends at commit; NOTIFY is not durable, so polling stays as the fallback.
SQLite has no NOTIFY: workers read `PRAGMA data_version` (which changes when another
connection commits, and costs no lock) every few milliseconds, and claim only then.
A database outage pauses claiming with backoff; it never ends the worker. The statements
themselves are mails/outbox.py's; this module decides when to run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.brokers import wire
from regmail.brokers.base import Handler, Message
from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS, DB_TIMEOUT_SECONDS, asyncpg_connect_args
from regmail.db.group_commit import GroupCommit
from regmail.mails.outbox import (
    CHANNEL,
    OutboxRow,
    Settle,
    Wakeup,
    claim_rows,
    insert_rows,
    settle_rows,
)

log = structlog.get_logger(__name__)

# What ends a wake-up source's connection (it reconnects).
WAKE_UP_ERRORS: tuple[type[Exception], ...] = (*DATABASE_ERRORS, sqlite3.Error)

MAX_OUTAGE_BACKOFF_SECONDS = 5.0
SQLITE_WATCH_SECONDS = 0.02


class _Delivered:
    """A claimed row: settled by deleting or rescheduling it; released by its lease."""

    def __init__(self, writes: GroupCommit, row_id: int) -> None:
        self._writes = writes
        self._row_id = row_id

    async def ack(self) -> None:
        await self._writes.add(settle_rows, Settle(self._row_id))

    async def park(self, due: float, reason: str) -> None:
        later = datetime.fromtimestamp(due, UTC)
        await self._writes.add(settle_rows, Settle(self._row_id, later=later))

    async def bury(self, reason: str) -> None:
        await self._writes.add(settle_rows, Settle(self._row_id, dead=reason))

    async def release(self) -> None:
        """Nothing to do: the row is due again when its lease runs out."""


class DbBroker:
    name = "db"
    counts_redeliveries = True

    def __init__(
        self,
        engine: AsyncEngine,
        lease_seconds: float,
        poll_seconds: float,
        writes: GroupCommit | None = None,
        wakeup: Wakeup | None = None,
        failed_delay: float = 60.0,
    ) -> None:
        self._engine = engine
        self._writes = writes or GroupCommit(engine)
        self._lease = timedelta(seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        self._wakeup_source = wakeup or Wakeup()
        self._wakeup = self._wakeup_source.subscribe()  # rung after a commit in this process
        self._failed_delay = failed_delay

    async def publish(self, messages: Sequence[Message]) -> None:
        async with self._engine.begin() as conn:
            for m in messages:
                await insert_rows(conn, [(m.mail_id, m.key)], utcnow(), m.trace)
        self._wakeup_source.ring()

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
            for row in claimed:
                task = asyncio.create_task(self._run(handler, row))
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
            except WAKE_UP_ERRORS:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), MAX_OUTAGE_BACKOFF_SECONDS)

    async def _listen_once(self, stop: asyncio.Event) -> None:
        """PostgreSQL: wake on the NOTIFY each enqueue sends at commit."""
        import asyncpg  # PostgreSQL only: the postgres extra

        conn = await asyncpg.connect(
            **asyncpg_connect_args(self._engine), timeout=DB_TIMEOUT_SECONDS
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, lambda *_: self._wakeup.set())
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

    async def _claim(self, limit: int) -> list[OutboxRow]:
        now = utcnow()
        return await self._writes.run(lambda conn: claim_rows(conn, limit, now, self._lease))

    async def _run(self, handler: Handler, row: OutboxRow) -> None:
        message = Message(row.mail_id, row.key, row.deliveries, row.trace)
        delivered = _Delivered(self._writes, row.id)
        await wire.deliver(handler, wire.Received(message), delivered, self._failed_delay)

    async def publish_event(self, event_type: str, key: str, event_id: str, body: bytes) -> None:
        raise NotImplementedError("broker=db publishes no events: use a webhook")

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
