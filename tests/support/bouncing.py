"""An SMTP server that answers "user unknown" for ghost@… (a hard bounce), else accepts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiosmtpd.smtp import SMTP, Envelope, Session

from regmail.mail.sink import Mailbox, SinkHandler
from tests.support.waiting import free_port

UNKNOWN = "550 5.1.1 <ghost@example.com>: Recipient address rejected: User unknown"


class GhostRefusingHandler(SinkHandler):
    """Accepts mail, except for ghost@… while the ghost has no mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(mailbox)
        self.ghost_exists = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("ghost@") and not self.ghost_exists:
            return UNKNOWN
        envelope.rcpt_tos.append(address)
        return "250 OK"


@asynccontextmanager
async def bouncing_server() -> AsyncIterator[tuple[str, Mailbox, GhostRefusingHandler]]:
    mailbox = Mailbox()
    handler = GhostRefusingHandler(mailbox)
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox, handler
    finally:
        server.close()
        await server.wait_closed()
