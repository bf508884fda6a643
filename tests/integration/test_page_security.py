"""regmail's HTML pages: CSRF tokens on forms, security headers (issue 19)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.service import make_settings, running_service


async def test_a_form_post_without_its_token_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        form = {"email": "csrf@example.com", "password": "correct horse", "locale": "en"}
        forged = await svc.client.post("/signup", data=form)  # what another site can send
        assert forged.status_code == 403
        assert "This form has expired" in forged.text
        # A token, but not the one this browser was given.
        await svc.client.get("/signup")
        other = {**form, "csrf_token": "A" * 43}
        assert (await svc.client.post("/signup", data=other)).status_code == 403
        assert await svc.mail_rows() == []
        sent = await svc.post_form("/signup", form)
        assert sent.status_code == 200 and 'id="result"' in sent.text
        assert len(await svc.mail_rows()) == 1


async def test_the_token_cookie_is_httponly_samesite_and_host_only_over_https(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, public_url="https://accounts.example.com")
    async with running_service(settings, worker=False) as svc:
        page = await svc.client.get("/signup")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-regmail-csrf=")
        for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert attribute.lower() in cookie.lower(), cookie
        assert "domain" not in cookie.lower()


async def test_pages_cannot_be_framed_and_send_no_referrer(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        for path in ("/signup", "/activate?token=made-up", "/forgot", "/docs"):
            page = await svc.client.get(path)
            assert page.headers["content-type"].startswith("text/html"), path
            policy = page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["referrer-policy"] == "no-referrer"
            assert page.headers["x-content-type-options"] == "nosniff"
        api = await svc.client.get("/healthz")
        assert api.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in api.headers


async def test_swagger_ui_loads_only_from_regmail_itself(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        docs = await svc.client.get("/docs")
        assert "cdn" not in docs.text.lower()
        for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
            response = await svc.client.get(asset)
            assert response.status_code == 200, asset
        assert isinstance(docs, httpx.Response)


async def test_regmail_dev_answers_only_to_its_own_host_names(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path, dev_mode=True), worker=False) as svc:
        # DNS rebinding: attacker.example resolved to 127.0.0.1 after the page loaded.
        rebound = await svc.client.get("/dev/mailbox", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
            page = await svc.client.get("/healthz", headers={"Host": host})
            assert page.status_code == 200, host


async def test_forms_may_be_redirected_on_to_the_application(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, app_url="https://app.example.com/shop")
    async with running_service(settings, worker=False) as svc:
        policy = (await svc.client.get("/signup")).headers["content-security-policy"]
    # Browsers hold a form's redirect to form-action: the 303 after an activation goes on.
    assert "form-action 'self' https://app.example.com;" in policy
