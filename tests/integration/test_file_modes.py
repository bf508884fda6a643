"""The embedded default's files hold password hashes, sealed tokens and the key that opens
them: created for their owner only, and a key others can read is refused (issue 19)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.processes import regmail_cli, settings_env
from tests.support.service import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_and_key_files_are_private(tmp_path: Path) -> None:
    key_file = tmp_path / "regmail-secret.key"
    settings = make_settings(tmp_path, secret_key=None, secret_key_file=key_file)
    assert "REGMAIL_SECRET_KEY" not in settings_env(settings)
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    database = tmp_path / "regmail.db"
    assert mode(database) == 0o600
    assert (await regmail_cli(settings, "messages", "list")).returncode == 0  # builds the key
    assert mode(key_file) == 0o600
    for journal in tmp_path.glob("regmail.db-*"):
        assert mode(journal) == 0o600, journal


async def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "regmail-secret.key"
    settings = make_settings(tmp_path, secret_key=None, secret_key_file=key_file)
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    assert (await regmail_cli(settings, "messages", "list")).returncode == 0
    key_file.chmod(0o644)
    refused = await regmail_cli(settings, "messages", "list")
    assert refused.returncode == 2
    assert "readable by others (mode 0644): `chmod 600" in refused.stderr
    assert key_file.read_text().strip() not in refused.stderr + refused.stdout
