"""The example application's settings, from EXAMPLE_* variables (scripts/example sets them)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExampleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    regmail_url: str = "http://127.0.0.1:8000"
    webhook_secret: SecretStr  # the same as regmail's REGMAIL_WEBHOOK_SECRET
    database: Path = Path("example-app.db")
    port: int = 8001
    # Signs the session cookie; a new one per start logs everyone out, which is fine here.
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_hex(32)))
