"""What an operator sees when a setting is wrong or a server is down: one line naming it,
exit status 2, no traceback (unless --debug), never a secret (issue 19's reproductions)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.processes import settings_env
from tests.support.service import make_settings
from tests.support.waiting import free_port, wait_for_port

STRONG_TOKEN = "5e0b8a61c3f94d27a1e6b0c8d4f29375"


async def run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "regmail", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def base_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = settings_env(make_settings(tmp_path))
    env.update({f"REGMAIL_{name.upper()}": value for name, value in settings.items()})
    return env


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("admin_token", "CHANGE-ME", "at least 32 characters"),
        ("admin_token", "CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME", "placeholder"),
        ("mail_from", "not an address", "is not an address"),
        ("smtp_url", "smtp://user:SECRETpart/x@smtp.example.com:587", "percent-encoded"),
        ("trusted_proxies", '["10.0.0.0/33"]', "is not an IP network"),
        ("worker_concurrency", "0", "greater than or equal to 1"),
        ("database_url", "mysql://regmail:SECRETpart@db/regmail", "must be sqlite+aiosqlite"),
        ("broker_url", "redis://:SECRETpart@cache:6379", "must be db, amqp://"),
        ("public_url", "accounts.example.com", "should match pattern"),
        ("templates_dir", "/nonexistent/templates", "is not a directory"),
    ],
)
async def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, setting: str, value: str, says: str
) -> None:
    result = await run(base_env(tmp_path, **{setting: value}), "serve", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"regmail: invalid setting REGMAIL_{setting.upper()}: ")
    assert says in line
    assert "SECRETpart" not in result.stderr + result.stdout
    assert "CHANGE-ME" not in result.stderr + result.stdout


async def test_a_problem_of_two_settings_together_is_one_line_naming_both(tmp_path: Path) -> None:
    env = base_env(tmp_path, lease_seconds="20", smtp_timeout="30")
    result = await run(env, "serve", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("regmail: invalid settings: REGMAIL_LEASE_SECONDS (20) must be ")
    assert "REGMAIL_SMTP_TIMEOUT (30)" in line


async def test_debug_shows_the_traceback_still_without_the_secret(tmp_path: Path) -> None:
    env = base_env(tmp_path, admin_token="CHANGE-ME")
    result = await run(env, "--debug", "serve", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr
    assert "CHANGE-ME" not in result.stderr


async def test_an_empty_admin_token_means_off_and_opens_nothing(tmp_path: Path) -> None:
    port = free_port()
    env = base_env(tmp_path, admin_token="", port=str(port))  # REGMAIL_ADMIN_TOKEN=
    assert (await run(env, "migrate", cwd=tmp_path)).returncode == 0
    serve = subprocess.Popen([sys.executable, "-m", "regmail", "serve"], env=env, cwd=tmp_path)
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for authorization in ("Bearer", None):
                headers = {"Authorization": authorization} if authorization else {}
                r = await client.get("/v1/admin/messages", headers=headers)
                assert r.status_code == 404, (authorization, r.text)
    finally:
        serve.send_signal(signal.SIGTERM)
        await asyncio.to_thread(serve.wait, 30)


async def test_the_database_down_is_one_line(tmp_path: Path) -> None:
    env = base_env(tmp_path, database_url="postgresql+asyncpg://regmail:pw@127.0.0.1:9/regmail")
    result = await run(env, "migrate", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("regmail: cannot reach ") and "127.0.0.1" in line, line
    assert "pw" not in line.split("127.0.0.1")[0]
    debug = await run(env, "--debug", "migrate", cwd=tmp_path)
    assert "Traceback" in debug.stderr


async def test_a_strong_token_starts(tmp_path: Path) -> None:
    env = base_env(tmp_path, admin_token=STRONG_TOKEN)
    result = await run(env, "check", cwd=tmp_path)
    assert "FAIL configuration" not in result.stdout, result.stdout
