"""Handing the person back to the application: a 303 to its page after each step and for a
link that no longer works; headless mode's links to the application's own frontend, and
CORS for exactly the origins allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regmail.mail.sink import Mailbox
from tests.support.accounts import active_account, mails_with, path_of, token_of
from tests.support.service import PASSWORD, Service, make_settings, running_service

APP = "https://app.example.com"
PATHS: dict[str, Any] = {
    "app_url": APP,
    "app_activated_path": "/signin?activated=1",
    "app_password_reset_path": "/signin?reset=1",
    "app_email_changed_path": "/account",
    "app_link_failed_path": "/link-failed",
}


async def _form(svc: Service, link: str, **fields: str) -> Any:
    """Submit the form of a link's page, as the browser does."""
    action = path_of(link).split("?")[0]
    return await svc.post_form(action, {"token": token_of(link), **fields})


async def test_each_step_ends_on_the_applications_page(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url, **PATHS)) as svc:
        await svc.register("ada@example.com")
        [activation] = await mails_with(mailbox, "Activate your account")
        done = await _form(svc, activation.links[0], password=PASSWORD)
        assert (done.status_code, done.headers["location"]) == (303, f"{APP}/signin?activated=1")
        again = await svc.client.get(path_of(activation.links[0]))  # already active
        assert (again.status_code, again.headers["location"]) == (303, done.headers["location"])

        await svc.client.post("/v1/password-resets", json={"email": "ada@example.com"})
        [reset] = await mails_with(mailbox, "Reset your password")
        done = await _form(svc, reset.links[0], password="another good one")
        assert (done.status_code, done.headers["location"]) == (303, f"{APP}/signin?reset=1")
        used = await svc.client.get(path_of(reset.links[0]))
        assert used.status_code == 303
        assert used.headers["location"] == f"{APP}/link-failed?step=reset&reason=used"

        change = {"email": "ada@example.com", "password": "another good one"}
        await svc.client.post("/v1/email-changes", json={**change, "new_email": "new@example.com"})
        [confirm] = await mails_with(mailbox, "Confirm your new email address")
        done = await _form(svc, confirm.links[0])
        assert (done.status_code, done.headers["location"]) == (303, f"{APP}/account")
        twice = await _form(svc, confirm.links[0])
        assert twice.status_code == 303
        assert twice.headers["location"] == f"{APP}/link-failed?step=email_change&reason=used"

        forged = await svc.client.get("/activate?token=not-a-token")
        assert forged.headers["location"] == f"{APP}/link-failed?step=activation&reason=invalid"


async def test_a_wrong_password_stays_on_regmails_page(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url, **PATHS)) as svc:
        await svc.register("ada@example.com")
        [activation] = await mails_with(mailbox, "Activate your account")
        refused = await _form(svc, activation.links[0], password="not the one")
        assert refused.status_code == 400 and 'id="form-error"' in refused.text


async def test_headless_links_point_at_the_applications_frontend(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, link_base_url=f"{APP}/auth")
    async with running_service(settings) as svc:
        await svc.register("ada@example.com")
        [activation] = await mails_with(mailbox, "Activate your account")
        link = activation.links[0]
        assert link.startswith(f"{APP}/auth/activate?token=")
        r = await svc.activate(token_of(link))  # what the frontend calls with the token
        assert r.status_code == 200 and r.json()["email"] == "ada@example.com"


async def test_cors_answers_only_the_allowed_origins(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, cors_origins=[APP])
    async with running_service(settings) as svc:
        await active_account(svc, mailbox, "ada@example.com")
        ok = await _preflight(svc, APP, "/v1/credentials/verify", "content-type")
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == APP
        stranger = await _preflight(svc, "https://evil.example", "/v1/registrations")
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers
        admin = await _preflight(svc, APP, "/v1/admin/accounts", "authorization")
        assert admin.status_code == 400  # the admin token never travels cross-origin
        r = await svc.client.post(
            "/v1/credentials/verify",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers={"origin": APP},
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP


async def test_no_cors_unless_asked(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        r = await _preflight(svc, APP, "/v1/registrations")
        assert "access-control-allow-origin" not in r.headers


async def _preflight(svc: Service, origin: str, path: str, headers: str = "") -> Any:
    asked = {"origin": origin, "access-control-request-method": "POST"}
    if headers:
        asked["access-control-request-headers"] = headers
    return await svc.client.options(path, headers=asked)
