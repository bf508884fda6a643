"""One SMTP connection after its handshake: sending mail, pipelined (RFC 2920) when the
server offers PIPELINING.

aiosmtplib makes the connection (greeting, EHLO, STARTTLS, AUTH: mail/smtp.py). Its
protocol cannot pipeline: it parses one reply per packet and drops data that arrives
while no command waits, so replies sent together would stall or vanish. So the transport
is handed to `_Replies`, which parses every reply in a packet, in order.

With PIPELINING a mail's MAIL, RCPT and DATA go in one packet, and the next mail's three
go in the packet that ends this one's body, so a connection busy with a stream of mails
moves one mail per round trip (as Postfix's smtp client does):

    MAIL RCPT DATA             ->  250 250 354
    body . MAIL RCPT DATA      ->  250 250 250 354     (mail 1 done, mail 2 may send)
    body . MAIL RCPT DATA      ->  ...

Two mails are in flight at most: the next mail's commands can only follow a body. Each
mail reads its own replies, in the order its commands went. Without PIPELINING each
command waits for its reply, one mail at a time. Failures raise aiosmtplib's own
exceptions, so mail/replies.py reads them as before.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque

import aiosmtplib
from aiosmtplib import SMTPResponse

_LINE_START_DOT = re.compile(rb"(?m)^\.")
_LONE_LINE_END = re.compile(rb"\r\n|\r|\n")


def data_block(message: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, leading dots doubled, the final dot.

    The renderer's messages already end their lines in CRLF and rarely start one with a
    dot: counting (in C) finds that out for a fraction of what rewriting every line with
    the regular expressions costs, which was 7 % of a worker's CPU a mail.
    """
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = _LONE_LINE_END.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b".") or b"\n." in message:
        message = _LINE_START_DOT.sub(b"..", message)
    return message + b".\r\n"


def encrypted(client: aiosmtplib.SMTP) -> bool:
    """TLS protects this connection (implicit, or STARTTLS done)."""
    return client.get_transport_info("sslcontext") is not None


class _Replies(asyncio.Protocol):
    """Every reply the server sends, parsed in order, however the packets split them."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._replies: deque[SMTPResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: Exception | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[: end + 1]).rstrip(b"\r\n")
            del self._buffer[: end + 1]
            self._line(line)
        self._wake()

    def _line(self, line: bytes) -> None:
        text = line.decode("utf-8", "surrogateescape")
        self._lines.append(text[4:].strip())
        if text[3:4] != "-":  # the last line of a reply
            try:
                code = int(text[:3])
            except ValueError:
                code = -1  # not SMTP: the caller's check of the code fails on it
            self._replies.append(SMTPResponse(code, "\n".join(self._lines)))
            self._lines = []

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = aiosmtplib.SMTPServerDisconnected(f"connection lost: {exc or 'EOF'}")
        self._writable.set()
        self._wake()

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, timeout: float) -> SMTPResponse:  # noqa: ASYNC109
        while not self._replies:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except TimeoutError:
                raise aiosmtplib.SMTPReadTimeoutError("timed out waiting for a reply") from None
        return self._replies.popleft()

    async def drained(self) -> None:
        await self._writable.wait()
        if self._lost is not None:
            raise self._lost


class NotSent(Exception):
    """The connection failed before any of this mail was written: it can go on another."""


class _Turn:
    """One mail's place in a connection's stream of commands and replies."""

    def __init__(self) -> None:
        # True once its body is written (with the next mail's commands after it); False
        # when it failed before: then the next mail's commands are never written here.
        self.wrote: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.read = asyncio.Event()  # all its replies are read: the next mail's come next
        self.next_envelope = b""

    def close(self) -> None:
        if not self.wrote.done():
            self.wrote.set_result(False)
        self.read.set()


class SmtpSession:
    """A connected, greeted (and TLS'd, authenticated) SMTP connection that sends mail.
    `send` may be called by two tasks at once when `pipelining` (mail/smtp.py's pool
    does), else by one at a time."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float) -> None:
        transport = client.transport
        if transport is None:
            raise aiosmtplib.SMTPServerDisconnected("not connected")
        self.pipelining = client.supports_extension("pipelining")
        self.encrypted = encrypted(client)
        self.broken = False  # in a state no further mail can trust: close it
        self._timeout = timeout
        self._replies = _Replies()
        self._transport = transport
        self._last: _Turn | None = None
        transport.set_protocol(self._replies)

    async def send(self, sender: str, recipient: str, message: bytes) -> str:
        """One mail to one recipient; the server's final reply, or aiosmtplib's error
        (NotSent when nothing of it left: another connection may take it)."""
        turn = _Turn()
        previous, self._last = self._last, turn
        try:
            return await self._send(previous, turn, sender, recipient, message)
        except BaseException as error:
            if not isinstance(error, aiosmtplib.SMTPDataError) or not turn.wrote.done():
                self._break()  # a refused body ends its transaction; anything else: unknown
            raise
        finally:
            turn.close()

    async def _send(
        self, previous: _Turn | None, turn: _Turn, sender: str, recipient: str, message: bytes
    ) -> str:
        commands = [f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>", "DATA"]
        envelope = "".join(f"{command}\r\n" for command in commands).encode()
        if self.pipelining and previous is not None and not previous.wrote.done():
            previous.next_envelope = envelope  # written after its body, in the same packet
            if not await previous.wrote:
                raise NotSent("the connection failed before this mail's turn")
        else:
            if not self.pipelining and previous is not None:
                await previous.read.wait()  # one mail at a time
            if self.broken or not self.is_connected:
                raise NotSent("the connection is closed")
            if self.pipelining:
                await self._write(envelope)
        if previous is not None:
            await previous.read.wait()
        # Each reply checked as it comes: a refusal (421 and hang up, say) is reported as
        # the server said it, not as the silence after it.
        for step, command in enumerate(commands):
            if not self.pipelining:
                await self._write(f"{command}\r\n".encode())
            _check(step, await self._replies.next(self._timeout), sender, recipient)
        await self._replies.drained()
        self._write_now(data_block(message) + turn.next_envelope)
        turn.wrote.set_result(True)
        final = await self._replies.next(self._timeout)
        if final.code != 250:
            raise aiosmtplib.SMTPDataError(final.code, final.message)
        return final.message

    async def noop(self) -> None:
        """Whether the server is still there; a connection that fails it is broken."""
        try:
            reply = await self._command("NOOP")
            if reply.code != 250:
                raise aiosmtplib.SMTPResponseException(reply.code, reply.message)
        except BaseException:
            self._break()
            raise

    async def quit(self) -> None:
        try:
            await self._command("QUIT")
        finally:
            self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def is_connected(self) -> bool:
        return not self._transport.is_closing()

    def _break(self) -> None:
        self.broken = True
        self.close()  # a mail waiting on a reply here fails now, not at its timeout

    async def _command(self, command: str) -> SMTPResponse:
        await self._write(f"{command}\r\n".encode())
        return await self._replies.next(self._timeout)

    async def _write(self, data: bytes) -> None:
        await self._replies.drained()
        self._write_now(data)

    def _write_now(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("connection closed")
        self._transport.write(data)  # type: ignore[attr-defined]


def _check(step: int, reply: SMTPResponse, sender: str, recipient: str) -> None:
    """aiosmtplib's exception when the server refused MAIL (0), RCPT (1) or DATA (2)."""
    if step == 0 and reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
    if step == 1 and reply.code not in (250, 251):
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)
        raise aiosmtplib.SMTPRecipientsRefused([refused])
    if step == 2 and reply.code != 354:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
