"""Chromium, driven by Playwright, and regmail's dev mailbox as a person sees it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from playwright.sync_api import Page

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


def open_newest_mail(page: Page, base: str, count: int = 1, timeout: float = 20.0) -> None:
    """The newest mail, once the mailbox holds `count`."""
    deadline = time.monotonic() + timeout
    page.goto(f"{base}/dev/mailbox")
    while page.locator("tr.mail").count() < count:
        assert time.monotonic() < deadline, "the mail did not reach the dev mailbox"
        page.wait_for_timeout(100)  # the mailbox page is plain HTML: reload to see new mail
        page.reload()
    page.locator("tr.mail a").first.click()
