"""The processes regmail runs, assembled here once: `serve` (the API, relaying beside it
unless told not to), `worker` (delivery, with retention beside it), `relay`, and `dev`
(all of it with a built-in SMTP sink). The CLI, the tests and the benchmark start them
through this module, so they run what production runs."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog

from regmail.brokers.relay import run_relay
from regmail.db.migrate import migrate
from regmail.delivery.retention import run_retention
from regmail.delivery.worker import run_worker
from regmail.extras import load
from regmail.mail.sink import Mailbox, start_sink
from regmail.runtime import Runtime
from regmail.settings import Settings
from regmail.tracing import shutdown_tracing
from regmail.warmup import freeze_start_up, warm_api

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger(__name__)


class Role(StrEnum):
    WORKER = "worker"  # delivers mail (and purges finished mail after its retention)
    RELAY = "relay"  # publishes outbox rows to RabbitMQ or Kafka
    ACCOUNTS = "accounts"  # beside every API: address requests left behind, account purge


async def deliver(runtime: Runtime, stop: asyncio.Event) -> None:
    """The worker, with the hourly purge of finished mails beside it."""
    s = runtime.settings
    keeper = asyncio.create_task(run_retention(runtime.engine, s.mail_retention_days, stop))
    try:
        delivery = runtime.delivery()
        await run_worker(
            runtime.broker, delivery, s.worker_concurrency, stop, s.worker_grace_seconds
        )
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)


async def relay(runtime: Runtime, stop: asyncio.Event) -> None:
    concurrency = runtime.settings.relay_concurrency
    await run_relay(runtime.outbox(), runtime.broker, concurrency, stop)


async def keep_accounts(runtime: Runtime, stop: asyncio.Event) -> None:
    await runtime.accounts.run(stop)


RUNS: dict[Role, Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]] = {
    Role.WORKER: deliver,
    Role.RELAY: relay,
    Role.ACCOUNTS: keep_accounts,
}


async def run(runtime: Runtime, roles: Collection[Role], stop: asyncio.Event) -> None:
    """Run `roles` side by side until `stop`."""
    await asyncio.gather(*(RUNS[role](runtime, stop) for role in roles))


@asynccontextmanager
async def running(runtime: Runtime, roles: Collection[Role]) -> AsyncIterator[None]:
    """`roles` running in the background for the duration of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(runtime, roles, stop))
    try:
        yield
    finally:
        stop.set()
        await task


def serve_roles(runtime: Runtime) -> frozenset[Role]:
    """What runs beside the API in `regmail serve`."""
    relaying = runtime.relays and runtime.settings.relay_in_serve
    return frozenset({Role.RELAY}) if relaying else frozenset()


def api(runtime: Runtime, roles: Collection[Role] = (), own_runtime: bool = False) -> FastAPI:
    """The API over `runtime`, with its account housekeeping and `roles` running for its
    lifetime; with `own_runtime` the app closes the runtime when it shuts down."""
    load("fastapi", "server")  # the HTTP service is an extra: say so, not ImportError
    from regmail.api.app import create_app
    from regmail.api.serving import admin_listener

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(runtime, {Role.ACCOUNTS, *roles}), admin_listener(runtime):
            await warm_api(runtime.hashing)
            yield
        if own_runtime:
            await runtime.close()
            shutdown_tracing()  # uvicorn ends the process by the signal: no atexit

    return create_app(runtime, lifespan)


async def process(settings: Settings, roles: Collection[Role], stop: asyncio.Event) -> None:
    """`regmail worker` and `regmail relay`: `roles` until `stop`, in a runtime of their own."""
    runtime = Runtime.build(settings)
    freeze_start_up()
    try:
        await run(runtime, roles, stop)
    finally:
        await runtime.close()


def serve(settings: Settings) -> None:
    """`regmail serve`: the API (and the relay) until SIGINT or SIGTERM."""
    uvicorn = load("uvicorn", "server")
    from regmail.api.serving import http_options

    runtime = Runtime.build(settings)
    app = api(runtime, serve_roles(runtime), own_runtime=True)
    freeze_start_up()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        **http_options(settings),
    )


async def dev(settings: Settings, announce: Callable[[str], None]) -> None:
    """`regmail dev`: the schema migrated, a built-in SMTP sink filling the mailbox, and
    the API with a worker beside it, until Ctrl-C. OSError when a port is taken."""
    mailbox = Mailbox()
    runtime = Runtime.build(settings, mailbox)
    try:
        await migrate(runtime.engine)
        sink = await start_sink(mailbox, "127.0.0.1", settings.dev_sink_port)
        try:
            await _serve_dev(runtime, announce)
        finally:
            sink.close()
            await sink.wait_closed()
    finally:
        await runtime.close()


async def _serve_dev(runtime: Runtime, announce: Callable[[str], None]) -> None:
    s = runtime.settings
    app = api(runtime, {Role.WORKER, *serve_roles(runtime)})
    uvicorn = load("uvicorn", "server")
    from regmail.api.serving import http_options

    server = uvicorn.Server(uvicorn.Config(app, host=s.host, port=s.port, **http_options(s)))
    base = f"http://{s.host}:{s.port}"
    announce(
        f"regmail dev is running (Ctrl-C stops it)\n"
        f"  sign-up page : {base}/signup\n"
        f"  mailbox      : {base}/dev/mailbox\n"
        f"  API docs     : {base}/docs\n"
        f"  SMTP sink    : smtp://127.0.0.1:{s.dev_sink_port}\n"
        f"  database     : {s.database_url}"
    )
    # uvicorn catches Ctrl-C / SIGTERM while it serves and raises the signal again once it
    # has shut down. Left to the event loop's default handler, that second SIGINT would
    # cancel this task halfway through closing the sink and the database, so the loop
    # takes it, and does nothing: the loop also sees every signal uvicorn handles (through
    # its wakeup fd), and passing it on would count as a second Ctrl-C, a forced exit that
    # skips the lifespan's shutdown (the worker cancelled, not stopped).
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: None)
    await server.serve()
    if not server.started:
        raise OSError(f"the HTTP port {s.port} is not available")
