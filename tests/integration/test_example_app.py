"""The example application and regmail side by side, as `scripts/example` runs them, with a
person in Chromium: sign up on the application → the mail → regmail's page → back to the
application → signed in by address; the application's own users table learned the
activation from regmail's signed webhook."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_newest_mail
from tests.support.processes import clean_env
from tests.support.waiting import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Example:
    regmail: str
    app: str
    state: Path


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Example]:
    regmail_port, app_port = free_port(), free_port()
    env = clean_env("EXAMPLE_")
    env |= {
        "EXAMPLE_STATE_DIR": str(tmp_path),
        "REGMAIL_PORT": str(regmail_port),
        "EXAMPLE_PORT": str(app_port),
        "REGMAIL_SINK_PORT": str(free_port()),
    }
    log = tmp_path / "example.log"
    process = subprocess.Popen(
        [ROOT / "scripts" / "example"],
        env=env,
        cwd=tmp_path,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal of its own, for Ctrl-C
    )
    try:
        wait_for_port(regmail_port, 60)
        wait_for_port(app_port, 60)
        yield Example(f"http://127.0.0.1:{regmail_port}", f"http://127.0.0.1:{app_port}", tmp_path)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches every process of the terminal
        code = process.wait(timeout=60)
    text = log.read_text()
    assert (code, "Traceback" in text) == (0, False), text


def test_a_person_signs_up_on_the_application_and_is_handed_back(example: Example) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{example.app}/signup")
        page.fill("#email", "ada@example.com")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        assert page.locator("#result").inner_text() == "Check your inbox"

        open_newest_mail(page, example.regmail)
        page.locator("a.mail-link").first.click()  # regmail's page asks for the password
        page.fill("#password", PASSWORD)
        page.click("#submit")
        assert page.url == f"{example.app}/signin?activated=1"  # handed back
        assert page.locator("#notice").inner_text() == "Your account is active. Sign in."
        page.screenshot(path=ARTIFACTS / "example-1-signin.png")

        page.fill("#email", "ada@example.com")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        assert page.locator("#greeting").inner_text() == "Welcome, ada@example.com"
        page.screenshot(path=ARTIFACTS / "example-2-welcome.png")
        browser.close()
    email, activated_at = _activation_the_app_heard_of(example.state / "app.db")
    assert email == "ada@example.com" and activated_at.startswith("20")


def _activation_the_app_heard_of(database: Path, timeout: float = 20.0) -> tuple[str, str]:
    """The application's own row, once the account.activated webhook has reached it."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(database) as db:
            row = db.execute(
                "SELECT email, activated_at FROM users WHERE activated_at IS NOT NULL"
            ).fetchone()
        if row:
            return str(row[0]), str(row[1])
        assert time.monotonic() < deadline, "the application never heard of the activation"
        time.sleep(0.1)  # polling another process's database: nothing to wait on instead
