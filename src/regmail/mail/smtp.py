"""Sending through a pool of reused SMTP connections (mail/replies.py says what a failure means)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosmtplib
from opentelemetry.trace import SpanKind

from regmail.mail.replies import ProviderUnavailable
from regmail.mail.session import NotSent, SmtpSession, encrypted
from regmail.mail.turns import Turns
from regmail.metrics import SMTP_CONNECTIONS, SMTP_SECONDS
from regmail.smtp_url import SmtpTarget
from regmail.tracing import span


class ClearTextRefused(aiosmtplib.SMTPException):
    """The password would cross the network unencrypted."""


@dataclass
class _Connection:
    session: SmtpSession
    last_used: float
    in_flight: int = 0
    checking: bool = False  # a NOOP is out: no mail may join

    @property
    def _depth(self) -> int:
        return 2 if self.session.pipelining else 1  # mail/session.py: two at most

    def has_room(self) -> bool:
        usable = self.session.is_connected and not self.session.broken
        return usable and not self.checking and self.in_flight < self._depth

    def room(self) -> int:
        """Mails it can take now."""
        return self._depth - self.in_flight if self.has_room() else 0

    def closed_while_idle(self) -> bool:
        """The server closed it while no mail was on it: it would hold its place in the
        pool forever, and a full pool of such, every mail."""
        return self.in_flight == 0 and not self.has_room()


class SmtpPool:
    """At most `size` connections, each reused for many mails and dropped once broken.
    A mail takes an idle connection, else opens one while fewer than `size` are open, else
    joins one that pipelines and has room (its commands then ride on the packet of the mail
    before: mail/session.py), else waits. Joining comes last: behind a slow reply the mail
    would wait its turn, where a connection of its own runs beside."""

    def __init__(
        self, target: SmtpTarget, size: int, timeout: float, idle_check_seconds: float
    ) -> None:
        self._target = target
        self._size = size
        self._timeout = timeout
        self._idle_check = idle_check_seconds
        self._open: list[_Connection] = []
        self._connecting = 0
        self._turns = Turns()  # mails waiting for room

    async def send(self, sender: str, recipient: str, data: bytes) -> str:
        """Send one message; returns the server's final reply or raises an SMTP error."""
        with SMTP_SECONDS.time(), span("smtp send", SpanKind.CLIENT):
            while True:
                connection = await self._connection()
                try:
                    return await connection.session.send(sender, recipient, data)
                except NotSent:
                    continue  # nothing of it went out: another connection takes it
                finally:
                    self._release(connection)

    async def _connection(self) -> _Connection:
        """A connection with room for one more mail, counted in."""
        woken = False
        while True:
            idle, busy = self._scan()
            if idle is not None:
                idle.in_flight += 1
                if not await self._still_there(idle):
                    continue
                return self._taken(idle)
            if len(self._open) + self._connecting < self._size:
                return await self._new_connection()
            if busy is not None:
                busy.in_flight += 1
                return self._taken(busy)
            await self._turns.wait(first=woken)
            woken = True

    def _taken(self, connection: _Connection) -> _Connection:
        """Room still left on it (an idle connection that pipelines) is a waiter's."""
        if connection.has_room():
            self._turns.wake_one()
        return connection

    def _scan(self) -> tuple[_Connection | None, _Connection | None]:
        """One pass over the pool (once a mail): drop the connections closed while idle,
        and find the idle connection used last (warm, the least likely to have been
        dropped) and a busy one with room."""
        idle: _Connection | None = None
        busy: _Connection | None = None
        closed: list[_Connection] = []
        for connection in self._open:
            if connection.closed_while_idle():
                closed.append(connection)
            elif connection.in_flight == 0:
                if idle is None or connection.last_used > idle.last_used:
                    idle = connection
            elif busy is None and connection.has_room():
                busy = connection
        for connection in closed:
            self._drop(connection)
            self._turns.wake_one()  # room for a connection: this mail takes one at most
        return idle, busy

    def _drop(self, connection: _Connection) -> None:
        self._open.remove(connection)
        connection.session.close()
        SMTP_CONNECTIONS.dec()

    async def _still_there(self, connection: _Connection) -> bool:
        """Servers drop idle clients; a NOOP finds out before a mail is at stake."""
        if time.monotonic() - connection.last_used < self._idle_check:
            return True
        connection.checking = True
        alive = False
        try:
            await connection.session.noop()
            alive = True
        except aiosmtplib.SMTPException:
            pass  # dropped: another connection is found
        finally:
            connection.checking = False
            if not alive:  # the session broke itself: released, it is dropped
                self._release(connection)
        return alive

    async def _new_connection(self) -> _Connection:
        self._connecting += 1
        try:
            session = await connect(self._target, self._timeout)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise ProviderUnavailable(_reason(error)) from error
        finally:
            self._connecting -= 1
            self._turns.wake_one()
        connection = _Connection(session, time.monotonic(), in_flight=1)
        self._open.append(connection)
        return connection

    def _release(self, connection: _Connection) -> None:
        """One mail less on it; a broken connection goes once no mail is on it."""
        connection.in_flight -= 1
        connection.last_used = time.monotonic()
        if connection.closed_while_idle():
            self._drop(connection)  # others closed while idle go at the next look (_scan)
        # As many as it has room for, woken together: a second mail's commands then ride
        # on the packet of the first (mail/session.py), as when every waiter woke.
        for _ in range(max(1, connection.room())):
            self._turns.wake_one()

    async def close(self) -> None:
        idle = [c for c in self._open if c.in_flight == 0]
        for connection in idle:
            self._open.remove(connection)
            await close(connection.session)


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
