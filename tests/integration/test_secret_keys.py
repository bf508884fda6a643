"""Key rotation seen from the worker: a mail sealed with a key it lacks goes dead, clearly."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from regmail.mail.sink import Mailbox
from regmail.mails.sealing import new_key
from tests.support.mailstate import queue_mails
from tests.support.service import TEST_DEFAULTS, make_settings, running_service

ADMIN = {"Authorization": f"Bearer {TEST_DEFAULTS['admin_token']}"}


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


async def test_a_mail_dead_for_a_lost_key_replays_with_a_fresh_link(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    lost, current = new_key(), new_key()
    async with running_service(
        make_settings(tmp_path, smtp_url=url, secret_key=lost), worker=False
    ) as svc:
        await svc.register("lost-key@example.com")
    settings = make_settings(tmp_path, smtp_url=url, secret_key=current)
    async with running_service(settings) as svc:
        [dead] = await svc.wait_for_rows(lambda r: r.status == "dead")
        assert (dead.dead_reason, dead.payload) == ("secret-key", {})
        replay = await svc.client.post(f"/v1/admin/messages/{dead.id}/retry", headers=ADMIN)
        assert replay.status_code == 200
        await svc.wait_for_rows(lambda r: r.status == "sent")
        [mail] = mailbox.all()
        token = parse_qs(urlsplit(mail.links[0]).query)["token"][0]
        activated = await svc.activate(token)
        assert activated.status_code == 200
        # The account is active now: its activation mail has nothing left to do.
        again = await svc.client.post(f"/v1/admin/messages/{dead.id}/retry", headers=ADMIN)
        assert again.status_code == 409
