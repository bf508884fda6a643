"""An aiosmtpd server with TLS (implicit or STARTTLS) and AUTH, on a self-signed certificate."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from regmail.mail.sink import Mailbox, SinkHandler
from tests.support.waiting import free_port

USER, PASSWORD = "sender@example.com", "s3cret-authcode"


def smtp_url(scheme: str, port: int, password: str = PASSWORD) -> str:
    query = "?starttls=true&verify=false" if scheme == "smtp" else "?verify=false"
    return f"{scheme}://{quote(USER, safe='')}:{quote(password)}@127.0.0.1:{port}{query}"


def self_signed_context(directory: Path) -> ssl.SSLContext:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _authenticate(
    server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@asynccontextmanager
async def tls_auth_server(
    directory: Path, mode: Literal["tls", "starttls"]
) -> AsyncIterator[tuple[int, Mailbox]]:
    """(port, mailbox) of a server that requires TLS and AUTH before accepting mail."""
    context = self_signed_context(directory)
    mailbox = Mailbox()
    port = free_port()

    def protocol() -> SMTP:
        return SMTP(
            SinkHandler(mailbox),
            tls_context=context if mode == "starttls" else None,
            require_starttls=mode == "starttls",
            auth_required=True,
            # Under implicit TLS the transport is already encrypted.
            auth_require_tls=mode == "starttls",
            authenticator=_authenticate,
        )

    server = await asyncio.get_running_loop().create_server(
        protocol, "127.0.0.1", port, ssl=context if mode == "tls" else None
    )
    try:
        yield port, mailbox
    finally:
        server.close()
        await server.wait_closed()


class _RecordingSink(SinkHandler):
    """Records, per message, whether TLS protected the session that sent it."""

    def __init__(self, mailbox: Mailbox, over_tls: list[bool]) -> None:
        super().__init__(mailbox)
        self.over_tls = over_tls

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.over_tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


@asynccontextmanager
async def plain_port_server(
    directory: Path, offer_starttls: bool, port: int | None = None
) -> AsyncIterator[tuple[int, Mailbox, list[bool]]]:
    """(port, mailbox, TLS per message) of a server on an ordinary port (not 587) that
    offers STARTTLS (or not) without requiring it, and takes AUTH even in clear text, as
    a careless relay would: what a client sends is then up to the client."""
    context = self_signed_context(directory) if offer_starttls else None
    mailbox, over_tls = Mailbox(), []
    port = port or free_port()

    def protocol() -> SMTP:
        return SMTP(
            _RecordingSink(mailbox, over_tls),
            tls_context=context,
            auth_require_tls=False,
            authenticator=_authenticate,
        )

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", port)
    try:
        yield port, mailbox, over_tls
    finally:
        server.close()
        await server.wait_closed()


def credentials() -> str:
    return f"{quote(USER, safe='')}:{quote(PASSWORD)}"
