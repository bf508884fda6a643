"""Pre-activation takeover: a stranger who signs up first with someone else's address must
not end up owning the account, whatever mail the owner opens and whatever opens the links.

Before this was fixed, the first sign-up fixed the password for good and opening any
activation link activated the account with it: the attacker's password won."""

from __future__ import annotations

from pathlib import Path

import pytest

from regmail.mail.sink import Mailbox
from tests.support.accounts import path_of, token_of
from tests.support.service import Service, make_settings, running_service
from tests.support.waiting import eventually

VICTIM = "victim@example.com"
ATTACKER_PASSWORD = "attacker-pw-123"
VICTIM_PASSWORD = "victim-pw-456"


async def two_activation_mails(svc: Service, mailbox: Mailbox) -> tuple[str, str]:
    """The attacker signs up with the victim's address, then the victim does: the links of
    (the mail the attacker caused, the mail the victim caused), both in the victim's inbox."""
    await svc.register(VICTIM, ATTACKER_PASSWORD)
    await svc.register(VICTIM, VICTIM_PASSWORD)

    async def both() -> list[str]:
        links = [m.links[0] for m in reversed(mailbox.all()) if VICTIM in m.to]
        return links if len(links) == 2 else []

    attackers, victims = await eventually(both)
    return attackers, victims


async def sign_in(svc: Service, password: str) -> int:
    answer = await svc.client.post(
        "/v1/credentials/verify", json={"email": VICTIM, "password": password}
    )
    return answer.status_code


@pytest.mark.parametrize("opened", ["the attacker's mail", "the victim's own mail"])
async def test_the_victim_activates_with_their_own_password_whichever_mail_they_open(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str, opened: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        attackers, victims = await two_activation_mails(svc, mailbox)
        link = attackers if opened == "the attacker's mail" else victims
        activated = await svc.activate(token_of(link), VICTIM_PASSWORD)
        assert activated.status_code == 200, activated.text
        assert await sign_in(svc, VICTIM_PASSWORD) == 200
        assert await sign_in(svc, ATTACKER_PASSWORD) == 401
        # Both links are spent: the other mail activates nothing any more.
        other = victims if link == attackers else attackers
        assert (await svc.activate(token_of(other), ATTACKER_PASSWORD)).status_code == 410


@pytest.mark.parametrize("opened", ["the attacker's mail", "the victim's own mail"])
async def test_the_same_through_the_pages(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], opened: str
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        attackers, victims = await two_activation_mails(svc, mailbox)
        link = attackers if opened == "the attacker's mail" else victims
        page = await svc.client.get(path_of(link))
        assert page.status_code == 200 and 'name="password"' in page.text
        form = {"token": token_of(link), "password": VICTIM_PASSWORD, "locale": "en"}
        done = await svc.post_form("/activate", form)
        assert done.status_code == 200 and "Account activated" in done.text
        assert await sign_in(svc, VICTIM_PASSWORD) == 200
        assert await sign_in(svc, ATTACKER_PASSWORD) == 401


async def test_a_scanner_that_opens_every_link_activates_nothing(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    """Mail scanners (Safe Links, gateways) fetch every link in a mail, and follow a
    redirect or two; nothing they can do with GET or HEAD activates the account."""
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        attackers, _ = await two_activation_mails(svc, mailbox)
        for mail in mailbox.all():
            for link in mail.links:
                for method in ("GET", "HEAD"):
                    await svc.client.request(method, path_of(link), follow_redirects=True)
        # Pending still: neither password signs in.
        assert await sign_in(svc, ATTACKER_PASSWORD) == 401
        assert await sign_in(svc, VICTIM_PASSWORD) == 403  # the right one: "not activated"
        # And the links still work for the person.
        assert (await svc.activate(token_of(attackers), VICTIM_PASSWORD)).status_code == 200
        assert await sign_in(svc, VICTIM_PASSWORD) == 200


async def test_the_attackers_password_activates_nothing_without_the_inbox(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    """The attacker holds no link (they are in the victim's inbox); guessing a token is
    256 bits, and a made-up one is refused before any password is looked at."""
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
        await two_activation_mails(svc, mailbox)
        guessed = await svc.activate("A" * 43, ATTACKER_PASSWORD)
        assert guessed.status_code == 400 and guessed.json()["code"] == "invalid"
        assert await sign_in(svc, ATTACKER_PASSWORD) == 401


async def test_a_password_reset_takes_a_hijacked_pending_address_back(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    """Completing a reset proves the inbox: the pending account becomes active with the
    owner's new password, and the attacker's sign-up links stop working."""
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        await svc.register(VICTIM, ATTACKER_PASSWORD)
        [activation] = await eventually(lambda: _links(mailbox, "Activate your account"))
        asked = await svc.client.post("/v1/password-resets", json={"email": VICTIM})
        assert asked.status_code == 202
        [reset] = await eventually(lambda: _links(mailbox, "Reset your password"))
        done = await svc.client.post(
            "/v1/password-resets/complete",
            json={"token": token_of(reset), "password": VICTIM_PASSWORD},
        )
        assert done.status_code == 200, done.text
        assert await sign_in(svc, VICTIM_PASSWORD) == 200
        assert await sign_in(svc, ATTACKER_PASSWORD) == 401
        spent = await svc.activate(token_of(activation), ATTACKER_PASSWORD)
        assert spent.status_code == 410


async def _links(mailbox: Mailbox, subject: str) -> list[str]:
    return [m.links[0] for m in mailbox.all() if m.subject == subject]
