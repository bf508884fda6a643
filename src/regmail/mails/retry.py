"""Retry policy as data: exponential backoff with jitter, bounded by attempts and age.

It lives beside the kinds because a kind may carry its own (`Kind.retry`); the worker
applies it (delivery/worker.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from regmail.mails.status import DeadReason
from regmail.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 30.0
    factor: float = 2.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 15
    max_age_seconds: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_seconds=settings.retry_base_seconds,
            factor=settings.retry_factor,
            max_delay_seconds=settings.retry_max_delay_seconds,
            max_attempts=settings.retry_max_attempts,
            max_age_seconds=settings.retry_max_age_seconds,
        )

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based).

        "Equal jitter": half the exponential step fixed, half random. Workers that failed
        together spread out, and no retry comes much sooner than the schedule says.
        """
        step = min(self.max_delay_seconds, self.base_seconds * self.factor ** (attempts - 1))
        return step / 2 + (rng or random).uniform(0, step / 2)

    def next_attempt(
        self,
        attempts: int,
        since: datetime,
        now: datetime,
        expires_at: datetime | None,
        rng: random.Random | None = None,
    ) -> datetime | DeadReason:
        """When to try again after `attempts` failures since `since`, or why not to."""
        if attempts >= self.max_attempts:
            return DeadReason.MAX_ATTEMPTS
        when = now + timedelta(seconds=self.delay(attempts, rng))
        if expires_at is not None and when >= expires_at:
            return DeadReason.EXPIRED  # the link would be dead on arrival
        if when - since > timedelta(seconds=self.max_age_seconds):
            return DeadReason.MAX_AGE
        return when
