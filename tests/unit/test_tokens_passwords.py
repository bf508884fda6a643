import hashlib
import re

import pytest

from regmail.accounts.passwords import PasswordHashing, password_problem
from regmail.accounts.tokens import new_token, token_hash
from regmail.settings import Settings


def test_token_has_256_bits_of_urlsafe_randomness() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    for token in list(tokens)[:50]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 bytes, base64url, no padding


def test_token_hash_is_sha256_hex_and_not_the_token() -> None:
    token = new_token()
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_hash(token)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "must be at least 8 characters"),
        ("1234567", "must be at least 8 characters"),
        ("12345678", None),
        ("密码密码密码密码", None),
        ("x" * 128, None),
        ("x" * 129, "must be at most 128 characters"),
    ],
)
def test_password_policy(password: str, problem: str | None) -> None:
    assert password_problem(password) == problem


async def test_hash_is_argon2id_with_configured_parameters() -> None:
    hashing = PasswordHashing(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        encoded = await hashing.hash("correct horse battery")
    finally:
        hashing.close()
    # OWASP: m=19 MiB, t=2, p=1 by default.
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
