"""Rate limits: the sliding-window counter, the bounded in-memory store."""

from __future__ import annotations

import tracemalloc

import pytest

from regmail.limits import RateLimit, RateLimited, hit_together
from regmail.limits.memory import MemoryCounters
from regmail.limits.window import Count, Hit, estimate, retry_after


def _limit(limit: int, now: list[float], max_keys: int = 1000) -> RateLimit:
    return RateLimit("t", limit, 60.0, MemoryCounters(max_keys), clock=lambda: now[0])


async def test_allows_up_to_the_limit_then_refuses_with_retry_after() -> None:
    now = [6000.0]  # the start of a window
    limit = _limit(3, now)
    for _ in range(3):
        await limit.hit("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limit.hit("10.0.0.1")
    assert 1 <= refused.value.retry_after <= 120
    await limit.hit("10.0.0.2")  # other clients are not affected


async def test_a_burst_at_a_window_edge_cannot_pass_twice_the_limit() -> None:
    now = [6059.0]  # the last second of a window
    limit = _limit(10, now)
    for _ in range(10):
        await limit.hit("a")
    now[0] = 6061.0  # a fixed window would allow 10 more right away
    with pytest.raises(RateLimited):
        await limit.hit("a")


async def test_waiting_the_retry_after_it_was_given_lets_a_client_in() -> None:
    now = [6000.0]
    limit = _limit(5, now)
    for _ in range(5):
        await limit.hit("a")
    now[0] = 6030.0
    with pytest.raises(RateLimited) as refused:
        await limit.hit("a")
    now[0] += refused.value.retry_after - 1
    with pytest.raises(RateLimited):  # a second early: still refused
        await limit.hit("a")
    # That refused hit counted too; the wait it was told is still the right one.
    now[0] += 1
    with pytest.raises(RateLimited) as again:
        await limit.hit("a")
    now[0] += again.value.retry_after
    await limit.hit("a")


def test_retry_after_is_when_the_estimate_leaves_room() -> None:
    # 10 in the previous window, 4 in this one, a third of it gone: estimate 10.67 > 10.
    count = Count(window=1, hits=4, previous=10)
    assert estimate(count, 1 / 3) == pytest.approx(10.67, abs=0.01)
    wait = retry_after(count, 1 / 3, limit=10, length=60.0)
    later = 1 / 3 + wait / 60.0
    assert estimate(count, later) + 1 <= 10 < estimate(count, later - 2 / 60.0) + 1


async def test_memory_store_is_bounded_and_forgets_the_least_recently_used() -> None:
    counters = MemoryCounters(max_keys=1000)

    async def hit(key: str) -> Count:
        return (await counters.hit([Hit(key, 1, 60.0)]))[0]

    for i in range(1000):
        await hit(f"key{i}")
    await hit("key0")  # used again: now the most recent
    await hit("new")
    assert len(counters) == 1000
    assert (await hit("key0")).hits == 3  # kept
    assert (await hit("key1")).hits == 1  # forgotten, then counted anew


async def test_limits_hit_together_all_count_and_the_longest_wait_is_told() -> None:
    now = [6000.0]
    counters = MemoryCounters(1000)
    per_minute = RateLimit("minute", 2, 60.0, counters, clock=lambda: now[0])
    per_hour = RateLimit("hour", 2, 3600.0, counters, clock=lambda: now[0])
    for _ in range(2):
        await hit_together((per_minute, "a"), (per_hour, "a"))
    with pytest.raises(RateLimited) as refused:
        await hit_together((per_minute, "a"), (per_hour, "a"))
    assert refused.value.retry_after > 60  # the hour's, not the minute's
    with pytest.raises(RateLimited):  # the refused hit counted against both
        await per_minute.hit("a")


async def test_limits_hit_together_share_their_counters_and_name_a_key_once() -> None:
    one = RateLimit("one", 5, 60.0, MemoryCounters(10))
    other = RateLimit("other", 5, 60.0, MemoryCounters(10))
    with pytest.raises(ValueError, match="share"):
        await hit_together((one, "a"), (other, "a"))
    with pytest.raises(ValueError, match="twice"):
        await hit_together((one, "a"), (one, "a"))


async def test_memory_of_many_clients_stays_within_the_cap() -> None:
    now = [6000.0]
    limit = _limit(30, now, max_keys=10_000)
    tracemalloc.start()
    for i in range(10_000):
        await limit.hit(f"198.51.{i // 256}.{i % 256}")
    full, _ = tracemalloc.get_traced_memory()
    for i in range(50_000):  # five times the cap: memory does not grow with them
        await limit.hit(f"203.0.{i // 256}.{i % 256}")
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after < full * 1.2
