"""mail/smtp.py's pool against scripted servers: a mail opens a connection of its own while
the pool may; at its size, a second mail joins a connection that pipelines instead of
waiting; a mail the connection never sent goes on another connection; without PIPELINING
one mail a connection at a time."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from regmail.mail.smtp import SmtpPool
from regmail.smtp_url import parse_smtp_url
from tests.support.scripted_smtp import (
    EHLO_PIPELINING,
    EHLO_PLAIN,
    Recording,
    scripted,
    take_one_mail,
)
from tests.support.waiting import eventually


def _pool(port: int, size: int = 1) -> SmtpPool:
    return SmtpPool(parse_smtp_url(f"smtp://127.0.0.1:{port}"), size, 5.0, 60.0)


async def _two(pool: SmtpPool) -> list[str | BaseException]:
    return await asyncio.gather(
        pool.send("a@example.com", "b@example.com", b"one\r\n"),
        pool.send("a@example.com", "c@example.com", b"two\r\n"),
        return_exceptions=True,
    )


async def test_two_mails_share_one_pipelining_connection() -> None:
    connections = 0

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await r.chunk()
        w.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
        await r.chunk()
        w.write(b"250 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        await r.chunk()
        w.write(b"250 queued 2\r\n")
        await r.until(b"QUIT\r\n")
        w.write(b"221 bye\r\n")

    async with scripted(EHLO_PIPELINING, script) as (port, seen):
        pool = _pool(port, size=1)
        assert await _two(pool) == ["queued 1", "queued 2"]
        await pool.close()
    assert connections == 1
    assert seen[1].startswith(b"one\r\n.\r\nMAIL FROM:")


async def test_below_its_size_the_pool_opens_a_connection_rather_than_queue_behind_one() -> None:
    connections = 0
    first_in_flight, second_connected = asyncio.Event(), asyncio.Event()

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 2:
            second_connected.set()
        await r.until(b"DATA\r\n")
        if not first_in_flight.is_set():
            first_in_flight.set()
            # A slow reply: the second mail must not wait behind it (5 s: a failing run ends)
            await asyncio.wait_for(second_connected.wait(), 5)
        w.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
        await r.until(b"\r\n.\r\n")
        w.write(b"250 done\r\n")
        await r.until(b"QUIT\r\n")
        w.write(b"221 bye\r\n")

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        pool = _pool(port, size=2)
        first = asyncio.create_task(pool.send("a@example.com", "b@example.com", b"one\r\n"))
        await first_in_flight.wait()
        assert await pool.send("a@example.com", "c@example.com", b"two\r\n") == "done"
        assert await first == "done"
        await pool.close()
    assert connections == 2


async def test_a_mail_its_connection_never_sent_goes_on_another() -> None:
    connections = 0

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:  # refuses mail 1's recipient: mail 2 was waiting behind it
            await r.chunk()
            w.write(b"250 ok\r\n550 5.1.1 no such user\r\n554 no valid recipients\r\n")
            await r.chunk()
            return
        await take_one_mail(r, w, b"250 queued 2\r\n")
        await r.chunk()

    async with scripted(EHLO_PIPELINING, script) as (port, seen):
        pool = _pool(port, size=1)
        first, second = await _two(pool)
        await pool.close()
    assert isinstance(first, aiosmtplib.SMTPRecipientsRefused)
    assert second == "queued 2"
    assert connections == 2
    assert sum(chunk.count(b"c@example.com") for chunk in seen) == 1  # sent once


@pytest.mark.parametrize("size", [1, 2])
async def test_without_pipelining_a_connection_carries_one_mail_at_a_time(size: int) -> None:
    connections = 0

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            for reply in (b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
                line = await r.until(b"\r\n")
                if line.startswith(b"QUIT"):
                    w.write(b"221 bye\r\n")
                    return
                w.write(reply)
            await r.until(b"\r\n.\r\n")
            w.write(b"250 done\r\n")

    async with scripted(EHLO_PLAIN, script) as (port, _):
        pool = _pool(port, size=size)
        assert await _two(pool) == ["done", "done"]
        await pool.close()
    assert connections == size


@pytest.mark.parametrize("ehlo", [EHLO_PIPELINING, EHLO_PLAIN], ids=["pipelining", "plain"])
async def test_a_full_pool_hands_each_freed_place_on_until_every_mail_is_sent(ehlo: bytes) -> None:
    """Forty mails on two connections: most wait, woken one at a time (mail/turns.py);
    a lost wake-up would leave mails waiting with the pool idle."""
    connections = 0

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        sent = 0
        while True:  # line by line: the same whether commands come one or three a packet
            for reply in (b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
                if (await r.until(b"\r\n")).startswith(b"QUIT"):
                    w.write(b"221 bye\r\n")
                    return
                w.write(reply)
            await r.until(b"\r\n.\r\n")
            sent += 1
            w.write(f"250 queued {sent}\r\n".encode())

    async with scripted(ehlo, script) as (port, _):
        pool = _pool(port, size=2)
        mails = [pool.send("a@example.com", f"{n}@example.com", b"hi\r\n") for n in range(40)]
        replies = await asyncio.wait_for(asyncio.gather(*mails), 20)
        await pool.close()
    assert all(reply.startswith("queued") for reply in replies)
    assert len(replies) == 40
    assert connections == 2


async def test_a_connection_the_server_dropped_while_idle_gives_way_to_a_new_one() -> None:
    connections = 0
    drop = asyncio.Event()

    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await take_one_mail(r, w, f"250 queued {connections}\r\n".encode())
        if connections == 1:
            await drop.wait()  # then hangs up, the connection idle in the pool
        else:
            await r.chunk()  # QUIT

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        pool = _pool(port, size=1)
        assert await pool.send("a@example.com", "b@example.com", b"one\r\n") == "queued 1"
        assert not await _all_closed(pool)
        drop.set()
        await eventually(lambda: _all_closed(pool))
        second = pool.send("a@example.com", "c@example.com", b"two\r\n")
        assert await asyncio.wait_for(second, 5) == "queued 2"  # not waiting for a slot
        await pool.close()
    assert connections == 2


async def _all_closed(pool: SmtpPool) -> bool:
    return not any(c.session.is_connected for c in pool._open)
