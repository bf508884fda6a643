"""mail/session.py against scripted SMTP servers (conversations as servers hold them):
MAIL, RCPT and DATA in one packet when PIPELINING is offered, replies however the packets
split them, each refusal as aiosmtplib reports it, one command at a time otherwise."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from regmail.mail.session import NotSent, data_block
from regmail.mail.smtp import connect
from regmail.smtp_url import parse_smtp_url
from tests.support.scripted_smtp import (
    EHLO_PIPELINING,
    EHLO_PLAIN,
    Recording,
    answering,
    scripted,
    take_one_mail,
)


async def _session(port: int):  # type: ignore[no-untyped-def]
    return await connect(parse_smtp_url(f"smtp://127.0.0.1:{port}"), 5.0)


async def test_mail_rcpt_and_data_go_in_one_packet_and_replies_in_one_come_apart() -> None:
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
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
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
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
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
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
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        await take_one_mail(r, w, b"554 5.7.1 spam\r\n")
        await r.chunk()

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await session.send("a@example.com", "b@example.com", b"hi\r\n")
        session.close()
    assert (refused.value.code, refused.value.message) == (554, "5.7.1 spam")


async def test_a_connection_dropped_mid_group_is_a_disconnect() -> None:
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        await r.until(b"DATA\r\n")
        w.write(b"250 ok\r\n")  # then gone

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await session.send("a@example.com", "b@example.com", b"hi\r\n")


async def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
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
    # Already CRLF throughout (as rendered): only the dots that start lines change.
    assert data_block(b"a\r\n.b\r\n.\r\nc") == b"a\r\n..b\r\n..\r\nc\r\n.\r\n"
    assert data_block(b"a\r\nb\r\n") == b"a\r\nb\r\n.\r\n"
    # One lone CR or LF among CRLFs is enough to rewrite them all.
    assert data_block(b"a\r\nb\rc\r\n.d") == b"a\r\nb\r\nc\r\n..d\r\n.\r\n"
    assert data_block(b"a\r\nb\n") == b"a\r\nb\r\n.\r\n"


ENVELOPE = b"MAIL FROM:<a@example.com>\r\nRCPT TO:<%s@example.com>\r\nDATA\r\n"


async def _two_at_once(session, first: bytes = b"one\r\n", second: bytes = b"two\r\n"):  # type: ignore[no-untyped-def]
    """Mail 1 to b@, mail 2 to c@, sent by two tasks at once; their results or errors."""
    return await asyncio.gather(
        session.send("a@example.com", "b@example.com", first),
        session.send("a@example.com", "c@example.com", second),
        return_exceptions=True,
    )


async def test_the_next_mails_commands_ride_on_the_packet_that_ends_this_one() -> None:
    script = answering(
        b"250 ok\r\n250 ok\r\n354 go\r\n",  # to mail 1's MAIL, RCPT, DATA
        b"250 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n",  # its body, mail 2's three
        b"250 queued 2\r\n",
    )
    async with scripted(EHLO_PIPELINING, script) as (port, seen):
        session = await _session(port)
        results = await _two_at_once(session)
        session.close()
    assert results == ["queued 1", "queued 2"]
    assert seen[0] == ENVELOPE % b"b"
    assert seen[1] == b"one\r\n.\r\n" + ENVELOPE % b"c"  # one packet: one round trip a mail
    assert seen[2] == b"two\r\n.\r\n"


async def test_a_refused_body_ends_only_its_own_mail() -> None:
    script = answering(
        b"250 ok\r\n250 ok\r\n354 go\r\n",
        b"554 5.7.1 spam\r\n250 ok\r\n250 ok\r\n354 go\r\n",
        b"250 queued 2\r\n",
    )
    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        first, second = await _two_at_once(session)
        assert not session.broken  # the transaction ended cleanly: the connection goes on
        session.close()
    assert isinstance(first, aiosmtplib.SMTPDataError) and first.code == 554
    assert second == "queued 2"


async def test_a_refusal_before_the_body_leaves_the_next_mail_unsent() -> None:
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        await r.chunk()
        w.write(b"250 ok\r\n550 5.1.1 no such user\r\n554 no valid recipients\r\n")
        await r.chunk()  # the client hangs up

    async with scripted(EHLO_PIPELINING, script) as (port, seen):
        session = await _session(port)
        first, second = await _two_at_once(session)
    assert isinstance(first, aiosmtplib.SMTPRecipientsRefused)
    assert isinstance(second, NotSent)  # so the pool gives it another connection
    assert session.broken
    assert b"c@example.com" not in b"".join(seen)


async def test_a_connection_lost_after_the_next_mails_commands_fails_both() -> None:
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        await r.chunk()
        w.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
        await r.chunk()  # body 1 and mail 2's commands: then gone without a word

    async with scripted(EHLO_PIPELINING, script) as (port, _):
        session = await _session(port)
        first, second = await _two_at_once(session)
    assert isinstance(first, aiosmtplib.SMTPServerDisconnected)
    assert isinstance(second, aiosmtplib.SMTPServerDisconnected)  # its commands went out


async def test_without_pipelining_a_second_mail_waits_for_the_first() -> None:
    async def script(r: Recording, w: asyncio.StreamWriter) -> None:
        for _ in range(2):
            for reply in (b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
                await r.until(b"\r\n")
                w.write(reply)
            await r.until(b"\r\n.\r\n")
            w.write(b"250 done\r\n")
        await r.chunk()

    async with scripted(EHLO_PLAIN, script) as (port, seen):
        session = await _session(port)
        assert await _two_at_once(session) == ["done", "done"]
        session.close()
    assert [chunk[:4] for chunk in seen[4:7]] == [b"MAIL", b"RCPT", b"DATA"]
