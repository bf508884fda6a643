"""Sending through a pool of reused SMTP connections (mail/replies.py says what a failure means)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiosmtplib
from opentelemetry.trace import SpanKind

from regmail.mail.replies import ProviderUnavailable
from regmail.mail.session import SmtpSession, encrypted
from regmail.metrics import SMTP_CONNECTIONS, SMTP_SECONDS
from regmail.smtp_url import SmtpTarget
from regmail.tracing import tracer


class ClearTextRefused(aiosmtplib.SMTPException):
    """The password would cross the network unencrypted."""


@dataclass
class _Connection:
    client: SmtpSession
    last_used: float


class SmtpPool:
    """At most `size` connections, each reused for many mails and dropped after any error."""

    def __init__(
        self, target: SmtpTarget, size: int, timeout: float, idle_check_seconds: float
    ) -> None:
        self._target = target
        self._timeout = timeout
        self._idle_check = idle_check_seconds
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []

    async def send(self, sender: str, recipient: str, data: bytes) -> str:
        """Send one message; returns the server's final reply or raises an SMTP error."""
        with SMTP_SECONDS.time(), tracer.start_as_current_span("smtp send", kind=SpanKind.CLIENT):
            return await self._send(sender, recipient, data)

    async def _send(self, sender: str, recipient: str, data: bytes) -> str:
        async with self._slots:
            try:
                connection = await self._take()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                raise ProviderUnavailable(_reason(error)) from error
            try:
                reply = await connection.client.send(sender, recipient, data)
            except BaseException:
                # The connection's state after a failure is unknown: never reuse it.
                connection.client.close()
                SMTP_CONNECTIONS.dec()
                raise
            connection.last_used = time.monotonic()
            self._idle.append(connection)
            return reply

    async def _take(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if time.monotonic() - connection.last_used < self._idle_check:
                return connection
            # Servers drop idle clients; a NOOP finds out before a mail is at stake.
            try:
                await connection.client.noop()
                return connection
            except aiosmtplib.SMTPException:
                await close(connection.client)
        return _Connection(await connect(self._target, self._timeout), time.monotonic())

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await close(connection.client)


# `timeout` is aiosmtplib's limit per command, not a deadline for the whole call.
async def connect(target: SmtpTarget, timeout: float) -> SmtpSession:  # noqa: ASYNC109
    """A connection ready to send: greeted, TLS (implicit or STARTTLS) and AUTH done by
    aiosmtplib, then handed to a session that can pipeline (mail/session.py)."""
    client = aiosmtplib.SMTP(
        hostname=target.hostname,
        port=target.port,
        use_tls=target.use_tls,
        start_tls=target.start_tls,
        validate_certs=target.validate_certs,
        cert_bundle=target.ca_file,
        timeout=timeout,
    )
    await client.connect()
    try:
        if target.username is not None:
            if not encrypted(client) and not target.insecure:
                raise ClearTextRefused(
                    "the server offers no STARTTLS, so AUTH would send the password in "
                    "clear text: use smtps://, a server with STARTTLS, or ?insecure=true"
                )
            await client.login(target.username, target.password or "")
        await _greeted(client)
        session = SmtpSession(client, timeout)
    except BaseException:
        client.close()
        raise
    SMTP_CONNECTIONS.inc()
    return session


async def _greeted(client: aiosmtplib.SMTP) -> None:
    """EHLO (HELO if refused) when the connection needs one: a STARTTLS forgets the first,
    and aiosmtplib says it again only before a command of its own."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()


def _reason(error: BaseException) -> str:
    """The server's reply when there is one (535 ...), else what the client said."""
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{error.code} {error.message}".strip()
    return f"{type(error).__name__}: {error}"


async def close(client: SmtpSession) -> None:
    """QUIT politely; drop the line if even that fails."""
    SMTP_CONNECTIONS.dec()
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
