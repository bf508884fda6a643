"""regmail processes started the way users start them, for crash tests."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from regmail.settings import Settings
from tests.support.waiting import wait_for_port


def clean_env(*prefixes: str) -> dict[str, str]:
    """This process's environment without REGMAIL_* (and `prefixes`) variables: a child
    gets only the settings the test gives it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("REGMAIL_", *prefixes))}


def settings_env(settings: Settings) -> dict[str, str]:
    """The REGMAIL_* environment that reproduces `settings` in a child process."""
    env = clean_env()
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"REGMAIL_{name.upper()}"] = _env_value(_revealed(value))
    return env


def _revealed(value: Any) -> Any:
    """The value with its secrets in clear (a child process needs them)."""
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)  # as pydantic-settings parses complex fields
    return str(value)


def start_regmail(
    settings: Settings, *args: str, log: Path, cwd: Path, max_file_bytes: int | None = None
) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "regmail", *args],
        env=settings_env(settings),
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=None if max_file_bytes is None else _limit_file_size(max_file_bytes),
    )


def _limit_file_size(max_bytes: int) -> Callable[[], None]:
    def limit() -> None:
        # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG instead.
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


async def regmail_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `regmail ARGS` to completion with `settings` in its environment."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "regmail", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


@asynccontextmanager
async def serving(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """`regmail migrate`, then `regmail serve` and `regmail worker` as users run them; yields
    the API's base URL and stops both with SIGTERM (each must exit 0)."""
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    log = tmp_path / "regmail.log"
    port = settings.port
    processes = [
        start_regmail(settings, "serve", log=log, cwd=tmp_path),
        start_regmail(settings, "worker", log=log, cwd=tmp_path),
    ]
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        # Waited for in a thread: their last SMTP QUIT may go to a sink on this loop.
        serve_code, worker_code = [await asyncio.to_thread(p.wait, 30) for p in processes]
    # uvicorn raises the signal again once it has shut down cleanly, as a shell expects.
    assert (serve_code in (0, -signal.SIGTERM), worker_code) == (True, 0), log.read_text()[-4000:]
    assert "unhandled_error" not in log.read_text()
