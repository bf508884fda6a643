"""Accounts through the API, with the mail the sink received: links, activation, sign-in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from regmail.mail.sink import Mailbox, ReceivedMail
from tests.support.service import PASSWORD, Service
from tests.support.waiting import eventually


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def path_of(link: str) -> str:
    """The link without scheme and host, as the test client asks for it."""
    return urlsplit(link)._replace(scheme="", netloc="").geturl()


async def mails_with(mailbox: Mailbox, subject: str, count: int = 1) -> list[ReceivedMail]:
    """The mails of that subject, oldest first, once there are `count`."""

    async def probe() -> list[ReceivedMail]:
        found = [m for m in reversed(mailbox.all()) if m.subject == subject]
        return found if len(found) >= count else []

    return await eventually(probe)


async def active_account(svc: Service, mailbox: Mailbox, email: str) -> None:
    """Signed up and activated through its mail, with PASSWORD."""
    await svc.register(email)

    async def link() -> list[str]:
        return [
            m.links[0]
            for m in mailbox.all()
            if email in m.to and m.subject == "Activate your account"
        ]

    [activation] = await eventually(link)
    assert (await svc.activate(token_of(activation))).status_code == 200


async def sign_in(svc: Service, email: str, password: str = PASSWORD) -> int:
    """The sign-in check's status."""
    r = await svc.client.post("/v1/credentials/verify", json={"email": email, "password": password})
    return r.status_code
