"""Address change end to end: asked with the password, made only when the link mailed to
the new address is used, the old address told both times, a taken address never revealed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from regmail.mail.sink import Mailbox
from tests.support.accounts import active_account, mails_with, sign_in, token_of
from tests.support.service import PASSWORD, Service, make_settings, running_service


async def ask(svc: Service, email: str, new_email: str, password: str = PASSWORD) -> int:
    r = await svc.client.post(
        "/v1/email-changes",
        json={"email": email, "password": password, "new_email": new_email},
    )
    return r.status_code


async def test_the_change_happens_when_the_new_address_confirms(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        await active_account(svc, mailbox, "old@example.com")
        assert await ask(svc, "old@example.com", "New@Example.com") == 202
        [confirm] = await mails_with(mailbox, "Confirm your new email address")
        [requested] = await mails_with(mailbox, "A change of your email address was requested")
        assert confirm.to == ["New@example.com"] and requested.to == ["old@example.com"]
        assert "New@example.com" in requested.text and requested.links == []

        page = await svc.client.get(urlsplit(confirm.links[0])._replace(netloc="").geturl())
        assert page.status_code == 200 and 'action="/confirm-email"' in page.text
        assert await sign_in(svc, "old@example.com") == 200  # a GET: nothing changed yet

        done = await svc.client.post(
            "/v1/email-changes/complete", json={"token": token_of(confirm.links[0])}
        )
        assert done.status_code == 200 and done.json()["email"] == "New@example.com"
        assert await sign_in(svc, "new@example.com") == 200
        assert await sign_in(svc, "old@example.com") == 401
        [changed] = await mails_with(mailbox, "Your email address was changed")
        assert changed.to == ["old@example.com"]
        again = await svc.client.post(
            "/v1/email-changes/complete", json={"token": token_of(confirm.links[0])}
        )
        assert again.status_code == 410


async def test_the_page_confirms_too(tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await active_account(svc, mailbox, "old@example.com")
        await ask(svc, "old@example.com", "new@example.com")
        [confirm] = await mails_with(mailbox, "Confirm your new email address")
        done = await svc.post_form(
            "/confirm-email", {"token": token_of(confirm.links[0]), "locale": "zh-CN"}
        )
        assert done.status_code == 200 and "邮箱已更改" in done.text
        assert await sign_in(svc, "new@example.com") == 200


async def test_the_password_is_checked_like_a_sign_in(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await active_account(svc, mailbox, "old@example.com")
        await svc.register("pending@example.com")
        assert await ask(svc, "old@example.com", "new@example.com", "wrong password") == 401
        assert await ask(svc, "nobody@example.com", "new@example.com") == 401
        assert await ask(svc, "pending@example.com", "new@example.com") == 403
        await svc.requests_handled()
        assert not [m for m in mailbox.all() if "new@example.com" in m.to]


async def test_a_taken_address_is_never_revealed_and_never_given(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        await active_account(svc, mailbox, "old@example.com")
        await active_account(svc, mailbox, "taken@example.com")
        # Taken already: the same 202 and the same notice to the old address; no link.
        assert await ask(svc, "old@example.com", "taken@example.com") == 202
        await mails_with(mailbox, "A change of your email address was requested")
        assert not [m for m in mailbox.all() if m.subject.startswith("Confirm your new")]
        # Free when asked, taken before the link is used: the change is refused.
        assert await ask(svc, "old@example.com", "late@example.com") == 202
        [confirm] = await mails_with(mailbox, "Confirm your new email address")
        await active_account(svc, mailbox, "late@example.com")
        refused = await svc.client.post(
            "/v1/email-changes/complete", json={"token": token_of(confirm.links[0])}
        )
        assert refused.status_code == 409
        assert await sign_in(svc, "old@example.com") == 200


async def test_two_confirmations_at_once_change_the_address_once(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        await active_account(svc, mailbox, "old@example.com")
        await ask(svc, "old@example.com", "new@example.com")
        [confirm] = await mails_with(mailbox, "Confirm your new email address")
        body = {"token": token_of(confirm.links[0])}
        answers = await asyncio.gather(
            *(svc.client.post("/v1/email-changes/complete", json=body) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers) == [200, 410, 410, 410]
