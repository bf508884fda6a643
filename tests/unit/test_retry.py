import random
from datetime import UTC, datetime, timedelta

from regmail.mails.retry import RetryPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_delay_grows_exponentially_within_equal_jitter_bounds() -> None:
    policy = RetryPolicy(base_seconds=10, factor=2, max_delay_seconds=1000)
    rng = random.Random(1)
    for attempts, step in [(1, 10), (2, 20), (3, 40), (4, 80)]:
        delays = [policy.delay(attempts, rng) for _ in range(200)]
        assert min(delays) >= step / 2
        assert max(delays) <= step
        assert max(delays) - min(delays) > step / 4  # jittered, not constant


def test_delay_is_capped() -> None:
    policy = RetryPolicy(base_seconds=10, factor=2, max_delay_seconds=60)
    assert all(policy.delay(30) <= 60 for _ in range(100))


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert isinstance(policy.next_attempt(2, NOW, NOW, None), datetime)
    assert policy.next_attempt(3, NOW, NOW, None) == "max-attempts"


def test_gives_up_past_max_age() -> None:
    policy = RetryPolicy(base_seconds=60, max_age_seconds=3600)
    created = NOW - timedelta(seconds=3590)
    assert policy.next_attempt(1, created, NOW, None) == "max-age"


def test_stops_when_the_link_would_have_expired() -> None:
    policy = RetryPolicy(base_seconds=60)
    assert policy.next_attempt(1, NOW, NOW, NOW + timedelta(seconds=10)) == "expired"
    assert isinstance(policy.next_attempt(1, NOW, NOW, NOW + timedelta(hours=1)), datetime)
