"""examples/django_app as its README runs it: Django's dev server and `regmail worker` on one
database; sign-up creates the user and its mail in one transaction, the mail reaches the
sink, and its link activates the user."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from regmail.mail.sink import Mailbox
from tests.support.accounts import mails_with
from tests.support.processes import clean_env
from tests.support.service import TEST_DEFAULTS
from tests.support.waiting import free_port, wait_for_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_app"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _run(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(args, cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


async def _post_form(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """As a browser does: the form's page first (Django's CSRF cookie and field)."""
    page = await client.get(path, params={"token": fields["token"]} if "token" in fields else None)
    [token] = CSRF.findall(page.text)
    return await client.post(path, data={"csrfmiddlewaretoken": token, **fields})


async def test_sign_up_mail_and_link_through_the_django_example(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    database, port = tmp_path / "shop.sqlite3", free_port()
    env = clean_env() | {
        "DATABASE_URL": f"sqlite:///{database}",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DJANGO_SECRET_KEY": "a test key of the example shop",
        "PYTHONPATH": str(EXAMPLE),
        "REGMAIL_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "REGMAIL_SMTP_URL": url,
        "REGMAIL_SECRET_KEY": TEST_DEFAULTS["secret_key"],
        "REGMAIL_KINDS": '["shop.accounts.mail:KINDS"]',
    }
    await asyncio.to_thread(_run, sys.executable, "manage.py", "migrate", env=env)
    await asyncio.to_thread(_run, sys.executable, "-m", "regmail", "migrate", env=env)
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE,
            env=env,
        ),
        subprocess.Popen([sys.executable, "-m", "regmail", "worker"], cwd=EXAMPLE, env=env),
    ]
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            form = {"email": "buyer@example.com", "password": "correct horse"}
            signed_up = await _post_form(client, "/signup", **form)
            assert signed_up.status_code == 202, signed_up.text
            [mail] = await mails_with(mailbox, "Welcome to the shop: activate your account")
            [link] = mail.links
            token = httpx.URL(link).params["token"]
            activated = await _post_form(client, "/activate", token=token)
            assert "Your account is active." in activated.text
            again = await _post_form(client, "/activate", token=token)
            assert again.status_code == 400  # a link works once
            # The address is taken: the user is not created, so neither is a mail.
            assert (await _post_form(client, "/signup", **form)).status_code == 202
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.to_thread(process.wait, 30)
    with sqlite3.connect(database) as db:
        [(active,)] = db.execute("SELECT is_active FROM shop_accounts_user").fetchall()
        [(payload,)] = db.execute("SELECT payload FROM regmail_mails").fetchall()  # one mail
    assert active == 1
    assert payload == "{}"  # the link's token left the database once the mail was sent
