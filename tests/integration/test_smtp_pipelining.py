"""A worker held to one SMTP connection with ten mails in flight, against Postfix's
smtp-sink (it offers PIPELINING) a round trip away: every mail delivered once, on that one
connection, the next mail's commands in the packet that ends the one before."""

from __future__ import annotations

from pathlib import Path

from regmail.mails.status import MailStatus
from regmail.settings import Settings
from tests.support.delay_proxy import delay_proxy
from tests.support.mailstate import count_mails, queue_mails
from tests.support.service import make_settings, running_service
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually

MAILS = 40


async def test_one_connection_carries_a_stream_of_mails_one_round_trip_each(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start()
    async with delay_proxy(smtp_sink.port, 0.01) as proxy:
        settings = make_settings(
            tmp_path,
            smtp_url=f"smtp://127.0.0.1:{proxy.port}",
            smtp_connections=1,
            worker_concurrency=10,
        )
        ids = await queue_mails(settings, MAILS)
        async with running_service(settings):

            async def all_sent() -> bool:
                return await count_mails(settings, MailStatus.SENT) == MAILS

            await eventually(all_sent, timeout=60)
    assert proxy.connections == 1
    assert smtp_sink.message_ids() == {f"<{mail_id}@regmail.localhost>": 1 for mail_id in ids}
    riding = [chunk for chunk in proxy.sent if b"\r\n.\r\nMAIL FROM:<" in chunk]
    assert len(riding) >= MAILS // 2  # most mails' commands went with the body before


async def test_connections_the_server_dropped_while_idle_do_not_hold_the_pool(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """smtp-sink restarted between two batches closes every idle connection of the pool;
    the second batch goes on new ones (it waited forever once: the dead ones kept their
    places)."""
    smtp_sink.start()
    settings = make_settings(
        tmp_path, smtp_url=smtp_sink.url, smtp_connections=2, worker_concurrency=4
    )
    first = await queue_mails(settings, 10, prefix="first")
    async with running_service(settings):
        await eventually(lambda: _sent(settings, 10), timeout=60)
        smtp_sink.start()  # a new process on the same port; the old one's connections gone
        second = await queue_mails(settings, 10, prefix="second")
        await eventually(lambda: _sent(settings, 20), timeout=60)
    assert set(smtp_sink.message_ids()) == {f"<{mail_id}@regmail.localhost>" for mail_id in second}
    assert first.isdisjoint(second)


async def _sent(settings: Settings, count: int) -> bool:
    return await count_mails(settings, MailStatus.SENT) == count
