"""Activation tokens: 256 random bits for the link, only their SHA-256 in the database."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything far off that is not one of ours.
MAX_TOKEN_LENGTH = 64


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Lookup key for a token. The database compares hashes, never the secret itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
