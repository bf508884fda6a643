"""Operators' account calls (look up, show, delete) and the purge of pending sign-ups."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from regmail.clock import utcnow
from regmail.db.tables import account_tokens, accounts
from regmail.mail.sink import Mailbox
from tests.support.service import make_settings, running_service
from tests.support.webhook_receiver import SECRET

ADMIN = {"Authorization": "Bearer 7f3c9a1e5b2d4f6081a3c5e7092b4d6f"}


async def test_look_up_show_and_delete(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:  # the mail stays queued
        await svc.register("ada@example.com")
        found = await svc.client.get(
            "/v1/admin/accounts", params={"email": "ADA@example.com"}, headers=ADMIN
        )
        assert found.status_code == 200
        [account] = found.json()
        assert (account["email"], account["status"]) == ("ada@example.com", "pending")
        assert "password_hash" not in account and "$argon2id$" not in found.text
        none = await svc.client.get(
            "/v1/admin/accounts", params={"email": "nobody@example.com"}, headers=ADMIN
        )
        assert none.json() == []
        one = await svc.client.get(f"/v1/admin/accounts/{account['id']}", headers=ADMIN)
        assert one.json() == account

        deleted = await svc.client.delete(f"/v1/admin/accounts/{account['id']}", headers=ADMIN)
        assert deleted.status_code == 204
        assert (
            await svc.client.get(f"/v1/admin/accounts/{account['id']}", headers=ADMIN)
        ).status_code == 404
        again = await svc.client.delete(f"/v1/admin/accounts/{account['id']}", headers=ADMIN)
        assert again.status_code == 404
        # Its link is gone, and its unsent mail will not go: dead, payload emptied.
        async with svc.runtime.engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(account_tokens)) == 0
        [mail] = await svc.mail_rows()
        assert (mail.status, mail.dead_reason, mail.payload, mail.account_id) == (
            "dead",
            "account-deleted",
            {},
            None,
        )


async def test_account_calls_need_the_admin_token(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        for method, path in [
            ("GET", "/v1/admin/accounts?email=a@example.com"),
            ("GET", "/v1/admin/accounts/x"),
            ("DELETE", "/v1/admin/accounts/x"),
        ]:
            assert (await svc.client.request(method, path)).status_code == 401
        bad = await svc.client.get(
            "/v1/admin/accounts", params={"email": "not an address"}, headers=ADMIN
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"


async def test_sent_mail_of_a_deleted_account_stays_as_retention_says(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, _ = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await svc.register("ada@example.com")
        [sent] = await svc.wait_for_rows(lambda r: r.status == "sent")
        [account] = (
            await svc.client.get(
                "/v1/admin/accounts", params={"email": "ada@example.com"}, headers=ADMIN
            )
        ).json()
        await svc.client.delete(f"/v1/admin/accounts/{account['id']}", headers=ADMIN)
        [kept] = await svc.mail_rows()
    assert (kept.id, kept.status, kept.account_id) == (sent.id, "sent", None)


async def test_pending_sign_ups_are_purged_after_the_set_days(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        pending_account_days=7,
        webhook_url="http://127.0.0.1:9/hooks",
        webhook_secret=SECRET,
    )
    async with running_service(settings, worker=False) as svc:
        await svc.register("old@example.com")
        await svc.register("new@example.com")
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.email_key == "old@example.com")
                .values(created_at=utcnow() - timedelta(days=8))
            )
        assert await svc.runtime.accounts.admin.purge(utcnow()) == 1
        async with svc.runtime.engine.connect() as conn:
            left = list(await conn.scalars(select(accounts.c.email)))
            tokens_left = await conn.scalar(select(func.count()).select_from(account_tokens))
        assert left == ["new@example.com"] and tokens_left == 1
        [deleted] = [r for r in await svc.mail_rows() if r.kind == "account.deleted"]
        event = svc.runtime.sealer.open(deleted.id, deleted.payload)
        assert event["data"]["email"] == "old@example.com"
        assert event["data"]["reason"] == "never_activated"
        assert await svc.runtime.accounts.admin.purge(utcnow()) == 0
