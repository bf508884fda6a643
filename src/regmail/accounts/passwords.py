"""Passwords: the policy a new one must meet, and argon2id hashing and checking off the
event loop.

Every password is NFKC-normalised before it is checked, hashed or compared, so the same
characters typed on two keyboards (full-width digits, composed accents) are one password.
The policy follows NIST SP 800-63B: a length (counted in code points), no composition
rules, and a refusal of passwords known to be common (`data/common-passwords.txt.gz`: the
100,000 most common of Mark Burnett's public-domain "10 million passwords", as the MIT-
licensed nbvcxz library ships them; `scripts/common-passwords` regenerates it) or equal to
the account's own address.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import secrets
import sys
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from regmail.settings import Settings

MAX_LENGTH = 128
MAX_INPUT_LENGTH = 1024  # what a request may carry at all; longer is refused unread


class PasswordRefused(ValueError):
    """Why a new password is refused: `code` is too_short, too_long, common or is_address."""

    def __init__(self, code: str, limit: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.limit = limit  # the length bound, for too_short and too_long


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read on first use: some 7 MB in memory)."""
    data = files("regmail.accounts").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split("\n")) - {""}


def check_new_password(password: str, min_length: int, address: str | None = None) -> str:
    """The password as it will be hashed, or PasswordRefused."""
    normalized = normalize(password)
    if len(normalized) < min_length:
        raise PasswordRefused("too_short", min_length)
    if len(normalized) > MAX_LENGTH:
        raise PasswordRefused("too_long", MAX_LENGTH)
    folded = normalized.casefold()
    if folded in common_passwords():
        raise PasswordRefused("common")
    if address is not None:
        whole = address.casefold()
        if folded in (whole, whole.partition("@")[0]):
            raise PasswordRefused("is_address")
    return normalized


def lower_priority(nice: int) -> None:
    """Schedule the calling thread `nice` steps below the rest of the process.

    On Linux a thread's nice value is its own (setpriority(2) on its thread id); elsewhere
    the same call would lower the whole process, so it is left alone. A refusal (a
    sandbox's seccomp policy) leaves the thread as it was: an initializer that raised
    would break the pool, and every sign-up with it.
    """
    if nice and sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(
                os.PRIO_PROCESS,
                threading.get_native_id(),
                min(os.getpriority(os.PRIO_PROCESS, 0) + nice, 19),
            )


class PasswordHashing:
    """argon2id in a thread pool bounded to the core count.

    argon2-cffi releases the GIL while hashing, so threads use every core while the
    event loop keeps answering other requests.
    """

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._threads = settings.hash_thread_count
        self._pool = ThreadPoolExecutor(
            max_workers=self._threads,
            thread_name_prefix="argon2",
            initializer=lower_priority,
            initargs=(settings.hash_thread_nice,),
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """The hash of an already normalised password."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` (normalised here) matches; with no hash, the same work against
        a hash nobody knows the password of, so an unknown account costs what a known one
        does."""
        if password_hash is None:
            password_hash = await self._dummy_hash()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, self._matches, password_hash, normalize(password)
        )

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(password_hash)

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def warm(self) -> None:
        """Start every thread of the pool, each hashing once (one of them the hash
        `verify` checks against when there is no account)."""
        started = (self.hash(secrets.token_urlsafe(32)) for _ in range(self._threads))
        hashes = await asyncio.gather(*started)
        self._dummy = self._dummy or hashes[0]

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(32))
        return self._dummy

    def close(self) -> None:
        self._pool.shutdown(wait=True)
