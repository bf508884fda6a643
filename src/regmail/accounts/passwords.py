"""Password policy and argon2id hashing, off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type

from regmail.settings import Settings

MIN_LENGTH = 8
MAX_LENGTH = 128


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None. Length only, as NIST SP 800-63B advises."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    return None


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
        self._pool = ThreadPoolExecutor(
            max_workers=settings.hash_thread_count, thread_name_prefix="argon2"
        )

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
