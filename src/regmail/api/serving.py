"""How uvicorn serves the API: its options (limits, logging, proxies), and the optional
admin listener (REGMAIL_ADMIN_BIND) beside the public port, in the same process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from regmail.api.http_protocol import bounded_protocol
from regmail.runtime import Runtime
from regmail.settings import Settings


def http_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the API: its limits (settings.py), our logging, and no proxy
    header handling of its own (the app reads them, through REGMAIL_TRUSTED_PROXIES)."""
    return {
        "http": bounded_protocol(
            settings.http_max_header_bytes, settings.http_header_timeout_seconds
        ),
        "limit_concurrency": settings.http_max_connections,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "proxy_headers": False,
        "log_config": None,  # its records go through regmail's pipeline (logs.py)
        "log_level": "warning",
    }


class _Beside(uvicorn.Server):
    """A second server in the process: the first one owns the signals and stops it."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def admin_listener(runtime: Runtime) -> AsyncIterator[None]:
    """The admin app on REGMAIL_ADMIN_BIND for the duration of the block (nothing when
    it is unset). OSError when its address cannot be bound."""
    settings = runtime.settings
    if settings.admin_bind is None:
        yield
        return
    from regmail.api.app import create_admin_app

    host, _, port = settings.admin_bind.rpartition(":")
    config = uvicorn.Config(
        create_admin_app(runtime),
        host=host.strip("[]"),
        port=int(port),
        lifespan="off",  # the public app's lifespan runs everything beside them both
        **http_options(settings),
    )
    # Bound here: uvicorn would sys.exit() on an address in use, from inside a task.
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.create_server((config.host, config.port), family=family)
    server = _Beside(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        await task  # its error, if any
        raise OSError(f"the admin listener on {settings.admin_bind} stopped at once")
    try:
        yield
    finally:
        server.should_exit = True
        await task
