"""A TCP proxy that delays every chunk by half a round trip in each direction, keeping
what was sent together together: the network between a worker and a mail provider 20-100
ms away, on loopback (this kernel has no `tc netem`). bench/round_trip.py measures through it;
tests read what it saw: connections, and each chunk the client sent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Proxy:
    port: int = 0
    connections: int = 0
    sent: list[bytes] = field(default_factory=list)  # client to server, chunk by chunk


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    seen: list[bytes] | None = None,
) -> None:
    """Forward each chunk `delay` seconds after it arrived, in order."""
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, chunk = await chunks.get()
            if not chunk:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))  # the simulated wire
            writer.write(chunk)
            await writer.drain()
        writer.close()

    forwarder = asyncio.create_task(forward())
    try:
        while chunk := await reader.read(65536):
            if seen is not None:
                seen.append(chunk)
            chunks.put_nowait((time.monotonic() + delay, chunk))
    except ConnectionError:
        pass
    chunks.put_nowait((time.monotonic() + delay, b""))
    with contextlib.suppress(ConnectionError):
        await forwarder


@contextlib.asynccontextmanager
async def delay_proxy(target_port: int, round_trip: float) -> AsyncIterator[Proxy]:
    """A proxy on 127.0.0.1 to `target_port` adding `round_trip` seconds."""
    proxy = Proxy()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proxy.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        half = round_trip / 2
        try:
            await asyncio.gather(
                _pipe(reader, up_writer, half, proxy.sent), _pipe(up_reader, writer, half)
            )
        except asyncio.CancelledError:
            pass  # the proxy is shutting down with this connection still open
        finally:
            writer.close()
            up_writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        await server.wait_closed()
