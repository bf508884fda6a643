"""A mail's payload (the raw activation token, for one) encrypted at rest with AES-256-GCM.

The worker needs the raw token to build the link, so it cannot be hashed like the stored
token; it is sealed instead. A sealed payload is `{"sealed": "<key id>.<nonce>.<ciphertext>"}`
(base64url), with the mail's id as associated data: a blob copied onto another row does
not open. The key id is the start of the key's SHA-256, so keys rotate: new mail is sealed
with the current key, and mail sealed earlier opens with any of the previous keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from regmail.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed payload that none of the configured keys opens."""


def new_key() -> str:
    """A fresh key in the form REGMAIL_SECRET_KEY takes (32 random bytes, base64url)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError) as error:
        raise ValueError("a secret key is 32 bytes in base64url (regmail secret-key)") from error
    if len(key) != KEY_BYTES:
        raise ValueError("a secret key is 32 bytes in base64url (regmail secret-key)")
    return key


class UnsafeKeyFile(Exception):
    """The key file may be read by other users of the machine."""


def key_from_file(path: Path) -> str:
    """The key stored at `path`, created (mode 0600) if there is none yet.

    For one machine (the embedded default): every process started in the same directory
    shares it. Several machines need REGMAIL_SECRET_KEY set to the same key everywhere.
    """
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise UnsafeKeyFile(
                f"{path} is readable by others (mode {mode:04o}): `chmod 600 {path}`, and "
                "rotate the key if anyone may have read it (docs/deploy.md, Secrets)"
            )
        return path.read_text().strip()
    # Written whole under a private name, then linked into place: a process starting at
    # the same moment either wins the link or reads a complete key, never an empty file.
    key = new_key()
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        key = path.read_text().strip()  # another process linked its key first: use theirs
    finally:
        draft.unlink()
    return key


class Sealer:
    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        current = settings.secret_key
        text = current.get_secret_value() if current else key_from_file(settings.secret_key_file)
        previous = settings.secret_keys_previous.get_secret_value().split(",")
        return cls(parse_key(text), [parse_key(key) for key in previous if key.strip()])

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self._current_id = _key_id(current)
        self._keys = {_key_id(key): AESGCM(key) for key in (*previous, current)}

    def seal(self, mail_id: str, payload: Mapping[str, Any]) -> dict[str, str]:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(payload, separators=(",", ":")).encode()
        sealed = self._keys[self._current_id].encrypt(nonce, plain, mail_id.encode())
        return {"sealed": ".".join((self._current_id, _b64(nonce), _b64(sealed)))}

    def open(self, mail_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The payload as it was sealed; a payload that was never sealed is returned as is."""
        if "sealed" not in payload:
            return dict(payload)
        key_id, nonce, sealed = str(payload["sealed"]).split(".")
        aead = self._keys.get(key_id)
        if aead is None:
            raise SealError(f"sealed with key {key_id}, which is not configured")
        try:
            plain = aead.decrypt(_unb64(nonce), _unb64(sealed), mail_id.encode())
        except InvalidTag as error:
            raise SealError(f"the payload does not open with key {key_id}") from error
        opened: dict[str, Any] = json.loads(plain)
        return opened


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
