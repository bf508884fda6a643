import hashlib
import os
import re
import sys
import threading

import pytest

from regmail.accounts.passwords import (
    PasswordHashing,
    PasswordRefused,
    check_new_password,
    common_passwords,
)
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
    ("password", "refusal"),
    [
        ("", "too_short"),
        ("1234567", "too_short"),
        ("12345678", "common"),  # the examples: accepted before
        ("password", "common"),
        ("PassWord1", "common"),  # the check ignores case
        ("ada@example.com", "is_address"),
        ("Kx7q", None),  # 4 characters: only when the minimum allows it (below)
        ("密码密码密码密码", None),
        ("x" * 128, None),
        ("x" * 129, "too_long"),
        ("tiger lily pond", None),
    ],
)
def test_password_policy(password: str, refusal: str | None) -> None:
    minimum = 4 if password == "Kx7q" else 8
    if refusal is None:
        assert check_new_password(password, minimum, "ada@example.com")
    else:
        with pytest.raises(PasswordRefused) as refused:
            check_new_password(password, minimum, "ada@example.com")
        assert refused.value.code == refusal


def test_the_local_part_of_the_address_is_refused_too() -> None:
    with pytest.raises(PasswordRefused, match="is_address"):
        check_new_password("Ada.Lovelace", 8, "ada.lovelace@example.com")


def test_passwords_are_nfkc_normalised_and_counted_in_code_points() -> None:
    # Full-width digits and a compatibility ligature become their plain forms.
    assert check_new_password("ｐａｓｓ　ｗｏｒｄ９９", 8) == "pass word99"
    assert check_new_password("ﬁﬁﬁﬁﬁﬁﬁx", 8) == "fififififififix"
    with pytest.raises(PasswordRefused, match="too_short"):
        check_new_password("é" * 7, 8)  # 7 code points, 14 bytes


def test_the_shipped_list_holds_the_100000_most_common_passwords() -> None:
    listed = common_passwords()
    # 100,000 entries, some differing only in case: the lower-cased list is a little shorter.
    assert 95_000 < len(listed) <= 100_000
    assert {"123456", "password", "qwerty", "iloveyou", "trustno1"} <= listed


async def test_verify_matches_only_the_password_and_costs_a_hash_for_no_account() -> None:
    hashing = PasswordHashing(
        Settings(_env_file=None, argon2_memory_kib=8192, argon2_time_cost=1)  # type: ignore[call-arg]
    )
    try:
        encoded = await hashing.hash(check_new_password("ｔｉｇｅｒ lily pond", 8))
        assert await hashing.verify(encoded, "tiger lily pond")  # normalised the same way
        assert not await hashing.verify(encoded, "tiger lily pone")
        assert not await hashing.verify(None, "tiger lily pond")
        assert not await hashing.verify("not a hash", "tiger lily pond")
        assert not hashing.needs_rehash(encoded)
        stronger = PasswordHashing(Settings(_env_file=None))  # type: ignore[call-arg]
        assert stronger.needs_rehash(encoded)
        stronger.close()
    finally:
        hashing.close()


async def test_hash_is_argon2id_with_configured_parameters() -> None:
    hashing = PasswordHashing(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        encoded = await hashing.hash("correct horse battery")
    finally:
        hashing.close()
    # OWASP: m=19 MiB, t=2, p=1 by default.
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
async def test_hashing_threads_run_below_the_event_loop_and_leave_it_as_it_was() -> None:
    settings = Settings(_env_file=None, hash_thread_nice=5)  # type: ignore[call-arg]
    hashing = PasswordHashing(settings)
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    try:
        await hashing.hash("correct horse battery")  # the pool's thread exists from here on
        [thread_nice] = {
            os.getpriority(os.PRIO_PROCESS, thread.native_id or 0)
            for thread in threading.enumerate()
            if thread.name.startswith("argon2")
        }
    finally:
        hashing.close()
    assert thread_nice == min(loop_nice + 5, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_nice
