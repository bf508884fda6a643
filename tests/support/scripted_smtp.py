"""Scripted SMTP servers for unit tests of mail/session.py and mail/smtp.py: each
conversation written as a server holds it, every chunk the server read recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

EHLO_PIPELINING = b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
EHLO_PLAIN = b"250-sink\r\n250 8BITMIME\r\n"


class Recording:
    """The server's side of the connection, keeping what it reads."""

    def __init__(self, reader: asyncio.StreamReader, seen: list[bytes]) -> None:
        self._reader, self._seen = reader, seen

    async def chunk(self) -> bytes:
        data = await self._reader.read(65536)
        self._seen.append(data)
        return data

    async def until(self, end: bytes) -> bytes:
        data = await self._reader.readuntil(end)
        self._seen.append(data)
        return data


Script = Callable[[Recording, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def scripted(ehlo: bytes, script: Script) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that greets, answers EHLO with `ehlo`, then runs `script`; yields its port
    and every chunk it read after EHLO."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        await reader.readline()  # EHLO
        writer.write(ehlo)
        await script(Recording(reader, seen), writer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


def answering(*replies: bytes) -> Script:
    """A conversation of packets: read one, answer the next of `replies`; then read once
    more (QUIT, or the client hanging up)."""

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        for reply in replies:
            await r.chunk()
            w.write(reply)
        await r.chunk()

    return script


async def take_one_mail(r: Recording, w: asyncio.StreamWriter, final: bytes) -> None:
    """MAIL, RCPT and DATA accepted together, the body read, `final` the answer to it."""
    await r.until(b"DATA\r\n")
    w.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
    await r.until(b"\r\n.\r\n")
    w.write(final)
