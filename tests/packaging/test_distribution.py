"""The package as users get it: the wheel and the sdist built by `python -m build`, installed
into fresh virtual environments on Python 3.11, 3.12 and 3.13 (pyenv's). The library alone
queues a mail in an application's transaction and `regmail worker` delivers it, with no
server extra present; `regmail[server]` runs the service; a missing extra is named."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from regmail.mail.sink import Mailbox
from tests.support.accounts import mails_with
from tests.support.processes import clean_env
from tests.support.service import TEST_DEFAULTS
from tests.support.waiting import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
CONSTRAINTS = ROOT / "constraints.txt"

# An application's own kind of mail, in its own package.
SHOP = {
    "shop/__init__.py": "",
    "shop/mail.py": """
        from jinja2 import PackageLoader
        from pydantic import BaseModel
        from regmail.mailer import Kind

        class Receipt(BaseModel):
            order: str

        KINDS = [Kind("receipt", PackageLoader("shop", "templates"), Receipt, locales=("en",))]
    """,
    "shop/templates/receipt.en.subject": "Receipt for {{ order }}",
    "shop/templates/receipt.en.txt": "Thank you for order {{ order }}.",
    "shop/templates/receipt.en.html": "<p>Thank you for order {{ order }}.</p>",
    "queue_one.py": """
        import sqlite3, sys
        from regmail.mailer import Mailer

        conn = sqlite3.connect(sys.argv[1])
        conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        conn.execute("INSERT INTO orders VALUES ('A1')")
        Mailer().queue(conn, "receipt", "buyer@example.com", {"order": "A1"})
        conn.commit()
    """,
}


def _python(version: str) -> Path:
    found = sorted(PYENV.glob(f"{version}.*/bin/python3"))
    assert found, f"Python {version} is not installed under {PYENV} (pyenv install {version})"
    return found[-1]


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT)  # sdist, then a wheel from it
    [wheel], [sdist] = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    return {"wheel": wheel, "sdist": sdist}


def _venv(python: Path, where: Path, *requirements: str) -> Path:
    _run(python, "-m", "venv", where)
    _run(where / "bin" / "pip", "install", "-q", "-c", CONSTRAINTS, *requirements)
    return where / "bin"


def _env(app: Path, smtp_url: str, **more: str) -> dict[str, str]:
    env = clean_env()
    return env | {
        "PYTHONPATH": str(app),
        "REGMAIL_DATABASE_URL": f"sqlite+aiosqlite:///{app / 'app.db'}",
        "REGMAIL_SMTP_URL": smtp_url,
        "REGMAIL_SECRET_KEY": TEST_DEFAULTS["secret_key"],
        "REGMAIL_KINDS": '["shop.mail:KINDS"]',
        **more,
    }


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Path]:
    for name, text in SHOP.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    yield tmp_path


@pytest.mark.parametrize(
    ("version", "artifact"), [("3.11", "wheel"), ("3.12", "wheel"), ("3.13", "sdist")]
)
async def test_the_library_alone_queues_and_delivers(
    version: str,
    artifact: str,
    dist: dict[str, Path],
    app: Path,
    aiosmtpd_server: tuple[str, Mailbox],
) -> None:
    url, mailbox = aiosmtpd_server
    bin_ = await asyncio.to_thread(_venv, _python(version), app / "venv", str(dist[artifact]))
    env = _env(app, url)
    assert (await asyncio.to_thread(_run, bin_ / "regmail", "--version")).startswith("regmail ")
    for module in ("fastapi", "uvicorn", "asyncpg", "aio_pika", "aiokafka"):  # no extras
        missing = subprocess.run([bin_ / "python", "-c", f"import {module}"], capture_output=True)
        assert missing.returncode != 0, f"{module} came with the library"
    refused = subprocess.run([bin_ / "regmail", "serve"], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "pip install 'regmail[server]'" in refused.stderr

    await asyncio.to_thread(_run, bin_ / "regmail", "migrate", env=env, cwd=app)
    await asyncio.to_thread(_run, bin_ / "python", app / "queue_one.py", app / "app.db", env=env)
    worker = subprocess.Popen([bin_ / "regmail", "worker"], env=env, cwd=app)
    try:
        [mail] = await mails_with(mailbox, "Receipt for A1")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0  # its QUIT goes to our loop
    assert mail.to == ["buyer@example.com"]


async def test_the_server_extra_runs_the_service(dist: dict[str, Path], tmp_path: Path) -> None:
    wheel = dist["wheel"]
    bin_ = await asyncio.to_thread(
        _venv, _python("3.12"), tmp_path / "venv", f"regmail[server] @ {wheel.as_uri()}"
    )
    port = free_port()
    env = _env(tmp_path, "smtp://127.0.0.1:9", REGMAIL_KINDS="[]")
    await asyncio.to_thread(_run, bin_ / "regmail", "migrate", env=env, cwd=tmp_path)
    serve = subprocess.Popen(
        [bin_ / "regmail", "serve", "--port", str(port)], env=env, cwd=tmp_path
    )
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            common = {"email": "ada@example.com", "password": "iloveyou1"}
            refused = await client.post("/v1/registrations", json=common)
            # The common-password list is package data: in the wheel, and read.
            assert refused.status_code == 422 and "common" in refused.text, refused.text
            common["password"] = "correct horse"
            assert (await client.post("/v1/registrations", json=common)).status_code == 202
    finally:
        serve.send_signal(signal.SIGTERM)
        await asyncio.to_thread(serve.wait, 30)
