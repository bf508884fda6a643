"""regmail processes started the way users start them, for crash tests."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from regmail.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The REGMAIL_* environment that reproduces `settings` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGMAIL_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"REGMAIL_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


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
