"""mail/session.py against scripted SMTP servers (conversations as servers hold them):
MAIL, RCPT and DATA in one packet when PIPELINING is offered, replies however the packets
split them, each refusal as aiosmtplib reports it, one command at a time otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiosmtplib
import pytest

from regmail.mail.session import data_block
from regmail.mail.smtp import connect
from regmail.smtp_url import parse_smtp_url

EHLO_PIPELINING = b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
EHLO_PLAIN = b"250-sink\r\n250 8BITMIME\r\n"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def scripted(ehlo: bytes, script: Script) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that greets, answers EHLO with `ehlo`, then runs `script`; yields its port
    and every chunk it read after EHLO."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        await reader.readline()  # EHLO
        writer.write(ehlo)
        await script(_Recording(reader, seen), writer)  # type: ignore[arg-type]
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


class _Recording:
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


async def _session(port: int):  # type: ignore[no-untyped-def]
    return await connect(parse_smtp_url(f"smtp://127.0.0.1:{port}"), 5.0)


async def test_mail_rcpt_and_data_go_in_one_packet_and_replies_in_one_come_apart() -> None:
    async def script(r: _Recording, w: asyncio.StreamWriter) -> None:
        await r.until(b"DATA\r\n")
        w.write(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n")  # together
        await r.until(b"\r\n.\r\n")
        w.write(b"250 2.0.0 queued as A1\r\n")
        await r.until(b"QUIT\r\n")
        w.write(b"221 bye\r\n")

    async with scripted(EHLO_PIPELINING, script) as (port, seen):
        session = await _session(port)
        assert session.pipelining
        reply = await session.send("a@example.com", "b@example.com", b"Subject: x\r\n\r\nhi\r\n")
        await session.quit()
    assert reply == "2.0.0 queued as A1"
    assert seen[0] == b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"


async def test_replies_split_byte_by_byte_are_read_whole() -> None:
    async def script(r: _Recording, w: asyncio.StreamWriter) -> None:
        await r.until(b"DATA\r\n")
        for byte in b"250-first line\r\n250 ok\r\n250 ok\r\n354 go\r\n":
            w.write(bytes([byte]))
            await w.drain()
        await r.until(b"\r\n.\r\n")
        w.write(b"250 done\r\n")

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        assert await session.send("a@example.com", "b@example.com", b"hi\r\n") == "done"
        session.close()


@pytest.mark.parametrize(
    ("replies", "error", "code"),
    [
        (b"550 5.1.8 bad sender\r\n503 no sender\r\n503 no rcpt\r\n", "SMTPSenderRefused", 550),
        (
            b"250 ok\r\n550 5.1.1 no such user\r\n554 no valid rcpt\r\n",
            "SMTPRecipientsRefused",
            550,
        ),
        (b"250 ok\r\n451 4.7.1 greylisted\r\n554 no valid rcpt\r\n", "SMTPRecipientsRefused", 451),
        (b"250 ok\r\n250 ok\r\n554 5.7.1 no\r\n", "SMTPDataError", 554),
    ],
)
async def test_each_refusal_is_aiosmtplibs_exception(replies: bytes, error: str, code: int) -> None:
    async def script(r: _Recording, w: asyncio.StreamWriter) -> None:
        await r.until(b"DATA\r\n")
        w.write(replies)
        await r.chunk()  # whatever comes next: the client gives the connection up

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        with pytest.raises(getattr(aiosmtplib, error)) as refused:
            await session.send("a@example.com", "b@example.com", b"hi\r\n")
        session.close()
    failure = refused.value
    if isinstance(failure, aiosmtplib.SMTPRecipientsRefused):
        failure = failure.recipients[0]
    assert isinstance(failure, aiosmtplib.SMTPResponseException) and failure.code == code


async def test_a_rejected_end_of_data_is_a_data_error() -> None:
    async def script(r: _Recording, w: asyncio.StreamWriter) -> None:
        await r.until(b"DATA\r\n")
        w.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
        await r.until(b"\r\n.\r\n")
        w.write(b"554 5.7.1 spam\r\n")
        await r.chunk()

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await session.send("a@example.com", "b@example.com", b"hi\r\n")
        session.close()
    assert (refused.value.code, refused.value.message) == (554, "5.7.1 spam")


async def test_a_connection_dropped_mid_group_is_a_disconnect() -> None:
    async def script(r: _Recording, w: asyncio.StreamWriter) -> None:
        await r.until(b"DATA\r\n")
        w.write(b"250 ok\r\n")  # then gone

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await session.send("a@example.com", "b@example.com", b"hi\r\n")


async def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    async def script(r: _Recording, w: asyncio.StreamWriter) -> None:
        for command, reply in (
            (b"MAIL", b"250 ok\r\n"),
            (b"RCPT", b"250 ok\r\n"),
            (b"DATA", b"354 go\r\n"),
        ):
            line = await r.until(b"\r\n")
            assert line.startswith(command), line  # nothing else came with it
            w.write(reply)
        await r.until(b"\r\n.\r\n")
        w.write(b"250 done\r\n")

    async with scripted(EHLO_PLAIN, script) as (port, seen):
        session = await _session(port)
        assert not session.pipelining
        assert await session.send("a@example.com", "b@example.com", b"hi\r\n") == "done"
        session.close()
    assert [chunk[:4] for chunk in seen[:3]] == [b"MAIL", b"RCPT", b"DATA"]


def test_the_body_is_dot_stuffed_with_crlf_line_ends() -> None:
    assert data_block(b".hidden\n..two\r\nlast") == b"..hidden\r\n...two\r\nlast\r\n.\r\n"
    assert data_block(b"ends well\r\n") == b"ends well\r\n.\r\n"
