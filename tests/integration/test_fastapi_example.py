"""examples/fastapi_sqlalchemy as its README runs it: uvicorn and `regmail worker` on one
database. A sign-up's user and mail commit together; a taken address leaves neither."""

from __future__ import annotations

import asyncio
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

ROOT = Path(__file__).resolve().parents[2]


async def test_sign_up_and_welcome_mail_through_the_fastapi_example(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    database, port = tmp_path / "app.db", free_port()
    env = clean_env() | {
        "APP_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "REGMAIL_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "REGMAIL_SMTP_URL": url,
        "REGMAIL_SECRET_KEY": TEST_DEFAULTS["secret_key"],
    }
    migrate = [sys.executable, "-m", "regmail", "migrate"]
    done = await asyncio.to_thread(subprocess.run, migrate, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "examples.fastapi_sqlalchemy.app:app",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [*migrate[:3], "worker", "--kinds", "examples.fastapi_sqlalchemy.app:KINDS"],
            cwd=ROOT,
            env=env,
        ),
    ]
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            ada = {"email": "ada@example.com", "name": "Ada"}
            assert (await client.post("/signup", json=ada)).status_code == 201
            [mail] = await mails_with(mailbox, "Welcome, Ada")
            taken = await client.post("/signup", json={**ada, "name": "Someone else"})
            assert taken.status_code == 409
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.to_thread(process.wait, 30)
    assert mail.to == ["ada@example.com"]
    with sqlite3.connect(database) as db:
        users = db.execute("SELECT name FROM users").fetchall()
        queued = db.execute("SELECT kind, status FROM regmail_mails").fetchall()
    assert (users, queued) == ([("Ada",)], [("welcome", "sent")])
