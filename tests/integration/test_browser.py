"""A person in a browser (Debian's headless Chromium): sign up → mailbox → the link's page →
the password → activated → on to the application; a password reset through the pages."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_newest_mail
from tests.support.processes import start_regmail
from tests.support.service import make_settings
from tests.support.waiting import free_port, wait_for_port


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    port, sink_port = free_port(), free_port()
    # "The application" the pages send a person on to: here, a page of regmail's own.
    settings = make_settings(tmp_path, app_url=f"http://127.0.0.1:{port}/healthz")
    process = start_regmail(
        settings,
        "dev",
        "--port",
        str(port),
        "--sink-port",
        str(sink_port),
        log=tmp_path / "dev.log",
        cwd=tmp_path,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = process.wait(timeout=30)
        log = (tmp_path / "dev.log").read_text()
        # A clean stop, not uvicorn's forced exit (which cancels the worker mid-flight).
        # Console lines for the person running it, not JSON.
        stopped = [line for line in log.splitlines() if "worker_stopped" in line]
        assert (code, "Traceback" in log, len(stopped)) == (0, False, 1), log
        assert not stopped[0].startswith("{"), stopped


TEXT = {
    "en": {
        "accepted": "Check your inbox",
        "activate": "Activate your account",
        "wrong": "is not the password chosen when signing up with this address",
        "activated": "Account activated",
        "active": "Your account is active",
    },
    "zh-CN": {
        "accepted": "请查收邮件",
        "activate": "激活账户",
        "wrong": "与使用此邮箱注册时设置的密码不一致",
        "activated": "账户已激活",
        "active": "您的账户已激活",
    },
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_sign_up_and_activate_in_a_browser(dev_server: str, lang: str) -> None:
    t = TEXT[lang]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{dev_server}/signup?lang={lang}")
        page.fill("#email", f"browser-{lang}@example.com")
        page.fill("#password", "correct horse battery")
        page.screenshot(path=ARTIFACTS / f"1-signup-{lang}.png")
        page.click("#submit")
        assert page.locator("#result").inner_text() == t["accepted"]

        open_newest_mail(page, dev_server)
        page.screenshot(path=ARTIFACTS / f"2-mail-{lang}.png", full_page=True)
        page.locator("a.mail-link").first.click()
        # Opening the link only asks for the password.
        assert page.locator("h1").inner_text() == t["activate"]
        page.screenshot(path=ARTIFACTS / f"3-confirm-{lang}.png")
        page.fill("#password", "not my password")
        page.click("#submit")
        assert page.locator("#form-error").inner_text() == t["wrong"]
        page.fill("#password", "correct horse battery")
        page.click("#submit")
        assert page.locator("#result").inner_text() == t["activated"]
        assert f"browser-{lang}@example.com" in page.content()
        page.screenshot(path=ARTIFACTS / f"4-activated-{lang}.png")
        page.click("#continue")  # on to the application
        assert page.url == f"{dev_server}/healthz"

        open_newest_mail(page, dev_server)
        page.locator("a.mail-link").first.click()  # the same link a second time
        assert page.locator("#result").inner_text() == t["active"]
        assert "fail" not in page.content().lower() and "失败" not in page.content()
        browser.close()


def test_reset_the_password_through_the_pages(dev_server: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{dev_server}/signup?lang=zh-CN")
        page.fill("#email", "forgetful@example.com")
        page.fill("#password", "correct horse battery")
        page.click("#submit")
        page.goto(f"{dev_server}/signup?lang=zh-CN")
        page.click("a#forgot")
        assert page.locator("h1").inner_text() == "重置密码"
        page.fill("#email", "forgetful@example.com")
        page.click("#submit")
        assert page.locator("#result").inner_text() == "请查收邮件"

        open_newest_mail(page, dev_server, count=2)  # after the activation mail
        page.locator("a.mail-link").first.click()
        assert page.locator("h1").inner_text() == "设置新密码"
        page.evaluate("document.querySelector('form').noValidate = true")
        page.fill("#password", "12345678")
        page.click("#submit")
        assert page.locator("#form-error").inner_text() == "是最常见的密码之一，请换一个"
        page.fill("#password", "tiger lily pond")
        page.click("#submit")
        assert page.locator("#result").inner_text() == "密码已更改"
        # A reset proves the inbox: the account, pending until now, is active.
        assert "已激活" in page.content()
        page.screenshot(path=ARTIFACTS / "5-reset-zh-CN.png")
        browser.close()
    with httpx.Client(base_url=dev_server) as client:
        signed_in = client.post(
            "/v1/credentials/verify",
            json={"email": "forgetful@example.com", "password": "tiger lily pond"},
        )
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize(
    ("lang", "email_error", "password_error"),
    [
        ("en", "@", "must be at least 8 characters"),
        ("zh-CN", "不是有效的邮箱地址", "至少需要 8 个字符"),
    ],
)
def test_signup_form_shows_field_errors(
    dev_server: str, lang: str, email_error: str, password_error: str
) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{dev_server}/signup?lang={lang}")
        # Bypass the browser's own checks to see the server's.
        page.evaluate("document.querySelector('form').noValidate = true")
        page.fill("#email", "not-an-address")
        page.fill("#password", "short")
        page.click("#submit")
        errors = page.locator("p.error").all_inner_texts()
        assert any(email_error in e for e in errors), errors
        assert password_error in errors, errors
        browser.close()
