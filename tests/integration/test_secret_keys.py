"""Key rotation seen from the worker: a mail sealed with a key it lacks goes dead, clearly."""

from __future__ import annotations

from pathlib import Path

from regmail.mail.sealing import new_key
from regmail.mail.sink import Mailbox
from tests.support.mailstate import queue_mails
from tests.support.service import make_settings, running_service


async def test_a_rotated_key_opens_old_mail_and_a_dropped_one_makes_it_dead(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    old, new, other = new_key(), new_key(), new_key()
    sealed_with_old = make_settings(tmp_path, smtp_url=url, secret_key=old)
    await queue_mails(sealed_with_old, 2, prefix="rotated")

    rotated = make_settings(tmp_path, smtp_url=url, secret_key=new, secret_keys_previous=old)
    async with running_service(rotated) as svc:
        rows = await svc.wait_for_rows(lambda r: r.status == "sent")
    assert len(rows) == 2 and len(mailbox.all()) == 2

    await queue_mails(sealed_with_old, 1, prefix="dropped")
    dropped = make_settings(tmp_path, smtp_url=url, secret_key=new, secret_keys_previous=other)
    async with running_service(dropped) as svc:
        rows = await svc.wait_for_rows(lambda r: r.status in ("sent", "dead"))
    [dead] = [r for r in rows if r.recipient == "dropped0@example.com"]
    assert (dead.status, dead.dead_reason) == ("dead", "secret-key")
    assert "not configured" in dead.last_reply
    assert len(mailbox.all()) == 2  # nothing was sent for it
