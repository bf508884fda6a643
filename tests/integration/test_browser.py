"""A person in a browser (Debian's headless Chromium): sign up → mailbox → activate."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.support.processes import start_regmail
from tests.support.service import make_settings
from tests.support.waiting import free_port, wait_for_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The machine has no internet: keep Chromium from calling home at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    port, sink_port = free_port(), free_port()
    settings = make_settings(tmp_path)
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
        assert process.wait(timeout=30) == 0, (tmp_path / "dev.log").read_text()


def open_newest_mail(page: Page, base: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    page.goto(f"{base}/dev/mailbox")
    while page.locator("tr.mail").count() == 0:
        assert time.monotonic() < deadline, "no mail reached the dev mailbox"
        page.wait_for_timeout(100)  # the mailbox page is plain HTML: reload to see new mail
        page.reload()
    page.locator("tr.mail a").first.click()


@pytest.mark.parametrize(
    ("lang", "accepted", "activated"),
    [("en", "Check your inbox", "Account activated"), ("zh-CN", "请查收邮件", "账户已激活")],
)
def test_sign_up_and_activate_in_a_browser(
    dev_server: str, lang: str, accepted: str, activated: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{dev_server}/signup?lang={lang}")
        page.fill("#email", f"browser-{lang}@example.com")
        page.fill("#password", "correct horse battery")
        page.screenshot(path=ARTIFACTS / f"1-signup-{lang}.png")
        page.click("#submit")
        assert page.locator("#result").inner_text() == accepted

        open_newest_mail(page, dev_server)
        page.screenshot(path=ARTIFACTS / f"2-mail-{lang}.png", full_page=True)
        page.locator("a.mail-link").first.click()
        assert page.locator("#result").inner_text() == activated
        assert f"browser-{lang}@example.com" in page.content()
        page.screenshot(path=ARTIFACTS / f"3-activated-{lang}.png")

        page.go_back()
        page.locator("a.mail-link").first.click()  # the same link a second time
        assert "already used" in page.content() or "已被使用" in page.content()
        browser.close()


def test_signup_form_shows_field_errors(dev_server: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{dev_server}/signup")
        # Bypass the browser's own checks to see the server's.
        page.evaluate("document.querySelector('form').noValidate = true")
        page.fill("#email", "not-an-address")
        page.fill("#password", "short")
        page.click("#submit")
        errors = page.locator("p.error").all_inner_texts()
        assert any("@" in e for e in errors), errors
        assert "must be at least 8 characters" in errors
        browser.close()
