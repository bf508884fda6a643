"""Mail payloads sealed at rest: AES-256-GCM bound to the mail's id, with key rotation."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from regmail.mails.sealing import Sealer, SealError, key_from_file, new_key, parse_key

TOKEN = "a-raw-activation-token-that-must-not-be-stored"


def test_a_sealed_payload_opens_to_what_was_sealed_and_hides_it() -> None:
    sealer = Sealer(parse_key(new_key()))
    sealed = sealer.seal("mail-1", {"token": TOKEN})
    assert TOKEN not in json.dumps(sealed)
    assert sealer.open("mail-1", sealed) == {"token": TOKEN}


def test_a_payload_copied_onto_another_mail_does_not_open() -> None:
    sealer = Sealer(parse_key(new_key()))
    sealed = sealer.seal("mail-1", {"token": TOKEN})
    with pytest.raises(SealError):
        sealer.open("mail-2", sealed)


def test_rotation_opens_mail_sealed_with_a_previous_key_and_seals_with_the_new() -> None:
    old, new = parse_key(new_key()), parse_key(new_key())
    sealed_before = Sealer(old).seal("mail-1", {"token": TOKEN})
    rotated = Sealer(new, previous=[old])
    assert rotated.open("mail-1", sealed_before) == {"token": TOKEN}
    assert Sealer(new).open("mail-2", rotated.seal("mail-2", {"token": TOKEN})) == {"token": TOKEN}
    with pytest.raises(SealError, match="not configured"):
        Sealer(new).open("mail-1", sealed_before)  # the old key dropped too early


def test_a_payload_stored_before_sealing_existed_is_read_as_is() -> None:
    assert Sealer(parse_key(new_key())).open("mail-1", {"token": TOKEN}) == {"token": TOKEN}


def test_the_key_file_is_created_private_once_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "regmail-secret.key"
    first = key_from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_from_file(path) == first
    assert len(parse_key(first)) == 32


@pytest.mark.parametrize("text", ["", "c2hvcnQ=", "not base64 at all!"])
def test_a_malformed_key_is_refused_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="32 bytes in base64url"):
        parse_key(text)
