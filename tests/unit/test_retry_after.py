"""Retry-After of a webhook receiver's 429 or 5xx: seconds or an HTTP date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from regmail.delivery.events import _retry_after


def test_seconds_and_dates_and_nonsense() -> None:
    assert _retry_after("120") == 120.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    seconds = _retry_after(later)
    assert seconds is not None and 85 <= seconds <= 90
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert _retry_after(past) == 0.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
