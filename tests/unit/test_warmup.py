"""warmup.py: what the API does before its first request (so no sign-up waits for it)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from regmail.accounts.passwords import PasswordHashing, common_passwords
from regmail.settings import Settings
from regmail.warmup import freeze_start_up, warm_api


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # the test process's objects back under the collector


def _argon2_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("argon2")}


async def test_warming_starts_every_hash_thread_and_reads_the_password_list() -> None:
    settings = Settings(_env_file=None, argon2_memory_kib=8192, argon2_time_cost=1, hash_threads=3)  # type: ignore[call-arg]
    hashing = PasswordHashing(settings)
    common_passwords.cache_clear()
    before = _argon2_threads()
    try:
        await warm_api(hashing)
        assert len(_argon2_threads() - before) == 3
        assert common_passwords.cache_info().currsize == 1
    finally:
        hashing.close()


def test_freezing_moves_what_start_up_made_out_of_the_collectors_sight(unfrozen: None) -> None:
    made = [[] for _ in range(1000)]  # tracked containers, as imports make
    freeze_start_up()
    assert gc.get_freeze_count() >= len(made)
