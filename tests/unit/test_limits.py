import pytest

from regmail.api.limits import RateLimiter
from regmail.api.problems import Problem


def test_rate_limiter_allows_up_to_the_limit_then_429_with_retry_after() -> None:
    limiter = RateLimiter(limit=3, window=60)
    for _ in range(3):
        limiter.hit("10.0.0.1")
    with pytest.raises(Problem) as refused:
        limiter.hit("10.0.0.1")
    assert refused.value.status == 429
    assert refused.value.headers is not None
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    limiter.hit("10.0.0.2")  # other clients are not affected


def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, window=60, clock=lambda: now[0])
    limiter.hit("a")
    now[0] = 30
    limiter.hit("a")
    with pytest.raises(Problem) as refused:
        limiter.hit("a")
    assert refused.value.headers == {"Retry-After": "30"}
    now[0] = 60.5  # the first hit has left the window
    limiter.hit("a")
