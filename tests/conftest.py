from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from regmail.mail.sink import Mailbox, start_sink
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import free_port


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """Postfix's smtp-sink on a free port (not started: call .start(*options))."""
    sink = SmtpSink(tmp_path)
    yield sink
    sink.stop()


@pytest.fixture
async def aiosmtpd_server() -> AsyncIterator[tuple[str, Mailbox]]:
    """The aiosmtpd-based dev sink on a free port: (smtp url, mailbox it fills)."""
    mailbox = Mailbox()
    port = free_port()
    server = await start_sink(mailbox, "127.0.0.1", port)
    yield f"smtp://127.0.0.1:{port}", mailbox
    server.close()
    await server.wait_closed()
