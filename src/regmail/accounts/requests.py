"""Requests that name an address (resend the activation mail, reset the password), answered
before the address is looked up.

Looking the address up and queueing its mail inside the request would make the answer
measurably slower for an address that has an account (a token and a mail are written)
than for one that has none. So the request only stores `(action, address, locale)`, the
same one insert for every address, and answers 202; the same process then handles the row,
in a transaction that deletes it, looks the address up and queues what is due. It waits a
random fraction of a second first: handled at once, a known address's writes would slow
the requester's very next request (on SQLite they take the one write lock), and that
would tell what the answer does not. A process that dies in between leaves the row, and
any API process's sweep handles it later: nothing is lost, and the delete makes each
request handled once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts.addresses import Address, parse_address
from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS, readonly
from regmail.db.tables import address_requests
from regmail.mails.queue import MailQueue

log = structlog.get_logger(__name__)

SWEEP_SECONDS = 30.0  # how often, and after how long, rows left by a dead process are taken


class Action(StrEnum):
    RESEND = "resend"  # the activation mail again
    RESET = "reset"  # a password reset mail


@dataclass(frozen=True)
class AddressRequest:
    action: Action
    address: Address
    locale: str


# Looks the address up and queues what is due, in the given transaction; the mail's id.
Handler = Callable[[AsyncConnection, AddressRequest], Awaitable[str | None]]


class AddressRequests:
    def __init__(
        self,
        engine: AsyncEngine,
        queue: MailQueue,
        handlers: Mapping[Action, Handler],
        jitter_seconds: float,
    ) -> None:
        self._engine = engine
        self._jitter_ms = int(jitter_seconds * 1000)  # the longest random wait before handling
        self._reads = readonly(engine)  # look-ups take no write lock
        self._queue = queue
        self._handlers = handlers
        self._handling: set[asyncio.Task[None]] = set()

    async def submit(self, action: Action, address: Address, locale: str) -> None:
        """Store the request (committed when this returns) and start handling it."""
        async with self._engine.begin() as conn:
            stored = await conn.execute(
                address_requests.insert().values(
                    action=action, email=address.display, locale=locale, created_at=utcnow()
                )
            )
        key = stored.inserted_primary_key
        assert key is not None
        task = asyncio.create_task(self._handle_quietly(int(key[0])))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def handle(self, request_id: int) -> None:
        """Take the row (one handler wins), look the address up, queue its mail: one
        transaction."""
        async with self._engine.begin() as conn:
            taken = await conn.execute(
                delete(address_requests)
                .where(address_requests.c.id == request_id)
                .returning(
                    address_requests.c.action,
                    address_requests.c.email,
                    address_requests.c.locale,
                )
            )
            row = taken.first()
            if row is None:
                return  # handled by another process's sweep
            request = AddressRequest(Action(row.action), parse_address(row.email), row.locale)
            mail_id = await self._handlers[request.action](conn, request)
        self._queue.committed(mail_id)

    async def _handle_quietly(self, request_id: int) -> None:
        if self._jitter_ms > 0:
            await asyncio.sleep(secrets.randbelow(self._jitter_ms + 1) / 1000)
        try:
            await self.handle(request_id)
        except DATABASE_ERRORS as error:  # the row stays; a sweep handles it
            log.warning("address_request_deferred", error=repr(error))

    async def sweep(self) -> int:
        """Handle rows older than a sweep interval (their process died); how many."""
        before = utcnow() - timedelta(seconds=SWEEP_SECONDS)
        async with self._reads.connect() as conn:
            ids = list(
                await conn.scalars(
                    select(address_requests.c.id)
                    .where(address_requests.c.created_at < before)
                    .order_by(address_requests.c.id)
                    .limit(1000)
                )
            )
        for request_id in ids:
            await self.handle(request_id)
        return len(ids)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep until `stop`; then let the requests being handled finish."""
        while not stop.is_set():
            try:
                swept = await self.sweep()
                if swept:
                    log.info("address_requests_swept", count=swept)
            except DATABASE_ERRORS as error:
                log.warning("address_request_sweep_failed", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SWEEP_SECONDS)
        if self._handling:
            await asyncio.gather(*self._handling, return_exceptions=True)
