"""regmail.client against a real `regmail serve` and `regmail worker`: every operation, and
each problem as its typed exception, through both Client and AsyncClient."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from regmail.client import (
    AccountLocked,
    AsyncClient,
    Client,
    Conflict,
    InvalidCredentials,
    NotActivated,
    NotFound,
    RateLimited,
    TokenGone,
    TokenInvalid,
    Unauthorized,
    ValidationFailed,
    WrongPassword,
)
from regmail.mail.sink import Mailbox
from regmail.mails.status import MailStatus
from tests.support.accounts import mails_with, token_of
from tests.support.processes import serving
from tests.support.service import PASSWORD, TEST_DEFAULTS, make_settings
from tests.support.waiting import free_port

ADMIN_TOKEN = TEST_DEFAULTS["admin_token"]
Call = Callable[..., Awaitable[Any]]


def _through(client: Client | AsyncClient) -> Call:
    """One way to call both clients from the test: a blocking one in a thread."""

    async def call(method: str, *args: Any, **kwargs: Any) -> Any:
        operation = getattr(client, method)
        if isinstance(client, Client):
            return await asyncio.to_thread(operation, *args, **kwargs)
        return await operation(*args, **kwargs)

    return call


def _client(kind: str, base_url: str, **options: Any) -> Client | AsyncClient:
    return Client(base_url, **options) if kind == "sync" else AsyncClient(base_url, **options)


async def _closed(client: Client | AsyncClient) -> None:
    if isinstance(client, Client):
        client.close()
    else:
        await client.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_every_operation(
    kind: str, tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, port=free_port())
    async with serving(settings, tmp_path) as base_url:
        client = _client(kind, base_url, admin_token=ADMIN_TOKEN)
        try:
            await _account_steps(_through(client), mailbox)
            await _admin_steps(_through(client))
        finally:
            await _closed(client)


async def _account_steps(call: Call, mailbox: Mailbox) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        await call("register", "not an address", PASSWORD)
    assert [e.field for e in invalid.value.errors] == ["email"]
    assert await call("register", "ada@example.com", PASSWORD, locale="en") is None
    [mail] = await mails_with(mailbox, "Activate your account")
    token = token_of(mail.links[0])
    with pytest.raises(NotActivated):
        await call("verify_credentials", "ada@example.com", PASSWORD)
    with pytest.raises(WrongPassword):
        await call("activate", token, "not the password")
    with pytest.raises(TokenInvalid):
        await call("activate", "made-up", PASSWORD)
    activated = await call("activate", token, PASSWORD)
    assert (activated.email, activated.status) == ("ada@example.com", "active")
    with pytest.raises(TokenGone) as gone:
        await call("activate", token, PASSWORD)
    assert gone.value.code == "used"
    assert await call("resend_activation", "ada@example.com") is None

    verified = await call("verify_credentials", "ada@example.com", PASSWORD)
    assert verified.account_id == activated.account_id
    with pytest.raises(InvalidCredentials):
        await call("verify_credentials", "ada@example.com", "not the password")

    await call("request_password_reset", "ada@example.com", locale="en")
    [reset] = await mails_with(mailbox, "Reset your password")
    done = await call("complete_password_reset", token_of(reset.links[0]), "a new password")
    assert done.account_id == activated.account_id

    await call("request_email_change", "ada@example.com", "a new password", "lovelace@example.com")
    [confirm] = await mails_with(mailbox, "Confirm your new email address")
    changed = await call("complete_email_change", token_of(confirm.links[0]))
    assert (changed.account_id, changed.email) == (activated.account_id, "lovelace@example.com")


async def _admin_steps(call: Call) -> None:
    sent = await call("list_messages", status=MailStatus.SENT, limit=10)
    assert {m.kind for m in sent} >= {"activation", "password_reset"}
    assert (await call("get_message", sent[0].id)).id == sent[0].id
    with pytest.raises(Conflict):
        await call("retry_message", sent[0].id)  # sent mail is not replayed
    with pytest.raises(NotFound):
        await call("get_message", "no-such-mail")
    assert (await call("mail_stats"))["sent"] >= 3
    assert await call("list_suppressions") == []
    with pytest.raises(NotFound):
        await call("lift_suppression", "nobody@example.com")

    account = await call("find_account", "lovelace@example.com")
    assert account is not None and account.status == "active"
    assert await call("find_account", "nobody@example.com") is None
    assert (await call("get_account", account.id)).email == "lovelace@example.com"
    assert await call("delete_account", account.id) is None
    with pytest.raises(NotFound):
        await call("get_account", account.id)


async def test_refusals_as_typed_exceptions(
    kind: str, tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, port=free_port(), signups_per_ip_per_minute=2)
    async with serving(settings, tmp_path) as base_url:
        client = _client(kind, base_url)
        call = _through(client)
        try:
            with pytest.raises(Unauthorized):
                await call("mail_stats")  # no admin token
            for n in range(2):
                await call("register", f"u{n}@example.com", PASSWORD, client_ip="203.0.113.7")
            with pytest.raises(RateLimited) as limited:
                await call("register", "u2@example.com", PASSWORD, client_ip="203.0.113.7")
            assert limited.value.retry_after and limited.value.retry_after > 0
            # Each end user is limited on their own: the client passes their address on.
            await call("register", "u2@example.com", PASSWORD, client_ip="198.51.100.1")

            mails = await mails_with(mailbox, "Activate your account", count=3)
            [link] = [m.links[0] for m in mails if "u2@example.com" in m.to]
            await call("activate", token_of(link), PASSWORD)
            email = "u2@example.com"
            with pytest.raises(RateLimited):  # failures throttled per address and network
                for _ in range(10):
                    with pytest.raises(InvalidCredentials):
                        await call("verify_credentials", email, "not the password")
            _lock(tmp_path, email)
            with pytest.raises(AccountLocked):
                await call("verify_credentials", email, PASSWORD, client_ip="192.0.2.1")
        finally:
            await _closed(client)


def _lock(tmp_path: Path, email: str) -> None:
    """100 failures in a row, written directly: the lock's own counting is tested elsewhere."""
    with sqlite3.connect(tmp_path / "regmail.db") as db:
        db.execute("UPDATE regmail_accounts SET failed_sign_ins = 100 WHERE email = ?", (email,))
