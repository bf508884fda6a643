"""Password reset end to end, through the mail in the sink: the link, the page, the new
password, the notice; reuse, expiry, the newest link only, concurrent completion."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import update

from regmail.clock import utcnow
from regmail.db.tables import account_tokens
from regmail.mail.sink import Mailbox
from tests.support.accounts import active_account, mails_with, sign_in, token_of
from tests.support.service import PASSWORD, Service, make_settings, running_service

NEW_PASSWORD = "tiger lily pond"


async def ask_reset(svc: Service, email: str, **extra: str) -> None:
    r = await svc.client.post("/v1/password-resets", json={"email": email, **extra})
    assert r.status_code == 202 and r.json() == {"status": "accepted"}


async def complete(svc: Service, token: str, password: str = NEW_PASSWORD) -> int:
    r = await svc.client.post(
        "/v1/password-resets/complete", json={"token": token, "password": password}
    )
    return r.status_code


async def test_reset_through_the_mail_and_the_page(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(
        tmp_path, smtp_url=url, database_url=database_url, app_url="https://app.example.com"
    )
    async with running_service(settings) as svc:
        await active_account(svc, mailbox, "ada@example.com")
        await ask_reset(svc, "ada@example.com", locale="zh-CN")
        [mail] = await mails_with(mailbox, "重置您的密码")
        [link] = mail.links
        assert link.startswith("http://regmail.test/reset?token=") and "lang=zh-CN" in link
        page = await svc.client.get(urlsplit(link)._replace(netloc="").geturl())
        assert page.status_code == 200 and 'action="/reset"' in page.text
        assert await sign_in(svc, "ada@example.com", PASSWORD) == 200  # a GET: nothing changed

        form = {"token": token_of(link), "password": NEW_PASSWORD, "locale": "zh-CN"}
        done = await svc.post_form("/reset", form)
        assert done.status_code == 200 and "密码已更改" in done.text
        assert 'href="https://app.example.com"' in done.text
        assert await sign_in(svc, "ada@example.com", NEW_PASSWORD) == 200
        assert await sign_in(svc, "ada@example.com", PASSWORD) == 401
        [notice] = await mails_with(mailbox, "Your password was changed")
        assert notice.to == ["ada@example.com"] and notice.links == []
        assert await complete(svc, token_of(link), "another one 123") == 410  # used


async def test_a_refused_new_password_says_why_and_spends_nothing(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await active_account(svc, mailbox, "ada@example.com")
        await ask_reset(svc, "ada@example.com")
        [mail] = await mails_with(mailbox, "Reset your password")
        refused = await svc.client.post(
            "/v1/password-resets/complete",
            json={"token": token_of(mail.links[0]), "password": "iloveyou"},
            headers={"Accept-Language": "zh-CN"},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {"field": "password", "message": "是最常见的密码之一，请换一个"}
        ]
        page = await svc.post_form(
            "/reset", {"token": token_of(mail.links[0]), "password": "ada@example.com"}
        )
        assert page.status_code == 400 and "must not be the email address" in page.text
        assert await complete(svc, token_of(mail.links[0])) == 200  # still usable


async def test_only_the_newest_link_works_and_it_expires(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await active_account(svc, mailbox, "ada@example.com")
        await ask_reset(svc, "ada@example.com")
        await mails_with(mailbox, "Reset your password")
        await ask_reset(svc, "ada@example.com")
        older, newer = await mails_with(mailbox, "Reset your password", 2)
        assert await complete(svc, token_of(older.links[0])) == 410
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(
                update(account_tokens).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert await complete(svc, token_of(newer.links[0])) == 410
        page = await svc.client.get("/reset", params={"token": token_of(newer.links[0])})
        assert page.status_code == 410 and 'href="/forgot?lang=en"' in page.text


async def test_one_link_completed_four_times_at_once_sets_the_password_once(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        await active_account(svc, mailbox, "ada@example.com")
        await ask_reset(svc, "ada@example.com")
        [mail] = await mails_with(mailbox, "Reset your password")
        token = token_of(mail.links[0])
        passwords = [f"tiger lily pond {i}" for i in range(4)]
        answers = await asyncio.gather(*(complete(svc, token, p) for p in passwords))
        assert sorted(answers) == [200, 410, 410, 410]
        winner = passwords[answers.index(200)]
        assert await sign_in(svc, "ada@example.com", winner) == 200
        await mails_with(mailbox, "Your password was changed")
        assert len([m for m in mailbox.all() if m.subject.startswith("Your password")]) == 1


async def test_unknown_addresses_get_nothing_and_pending_ones_are_activated_by_a_reset(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await ask_reset(svc, "nobody@example.com")
        await svc.register("pending@example.com")
        await ask_reset(svc, "pending@example.com")
        [mail] = await mails_with(mailbox, "Reset your password")
        assert mail.to == ["pending@example.com"]
        await svc.requests_handled()
        assert not [m for m in mailbox.all() if "nobody@example.com" in m.to]
        assert await sign_in(svc, "pending@example.com", PASSWORD) == 403
        assert await complete(svc, token_of(mail.links[0])) == 200
        assert await sign_in(svc, "pending@example.com", NEW_PASSWORD) == 200


async def test_the_forgot_page_asks_by_address(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await active_account(svc, mailbox, "ada@example.com")
        form = await svc.client.get("/forgot", params={"lang": "zh-CN"})
        assert form.status_code == 200 and "重置密码" in form.text
        bad = await svc.post_form("/forgot", {"email": "ada@", "locale": "zh-CN"})
        assert bad.status_code == 422 and "不是有效的邮箱地址" in bad.text
        sent = await svc.post_form("/forgot", {"email": "ada@example.com", "locale": "en"})
        assert sent.status_code == 200 and "Check your inbox" in sent.text
        await mails_with(mailbox, "Reset your password")
