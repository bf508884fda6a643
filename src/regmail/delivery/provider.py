"""Delivery paused as a whole while the SMTP provider itself fails.

A refused connection, a failed TLS handshake or a refused password is not one mail's
problem: every mail would fail the same way, burn its retries and flood the log. So the
first such failure closes the gate for a while (1 s, doubling up to a cap); mails that
meet a closed gate wait without an attempt counted; the failure is said once, loudly; and
the first send that works again opens the gate and says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from regmail.clock import utcnow
from regmail.metrics import DESTINATION_PAUSED, SMTP_PAUSED

log = structlog.get_logger(__name__)

Announce = Callable[[str | None, datetime | None, datetime | None], Awaitable[None]]


async def _nowhere(reason: str | None, since: datetime | None, until: datetime | None) -> None:
    pass


class ProviderGate:
    def __init__(
        self,
        base_seconds: float = 1.0,
        cap_seconds: float = 60.0,
        announce: Announce = _nowhere,
        clock: Callable[[], datetime] = utcnow,
        destination: str = "smtp",  # or an event destination: webhook:<name>, broker
    ) -> None:
        self._destination = destination
        smtp = destination == "smtp"
        self._gauge = SMTP_PAUSED if smtp else DESTINATION_PAUSED.labels(destination)
        self._event = "smtp_provider" if smtp else "destination"  # the log lines' names
        self._base = base_seconds
        self._cap = cap_seconds
        self._announce = announce  # tells operators elsewhere (the database, for /readyz)
        self._clock = clock
        self._pause = 0.0
        self._since: datetime | None = None
        self._until: datetime | None = None

    def closed_until(self) -> datetime | None:
        """When the gate opens again, while it is closed."""
        if self._until is not None and self._clock() < self._until:
            return self._until
        return None

    async def trip(self, reason: str) -> datetime:
        """A provider failure: close the gate (for longer each time in a row)."""
        now = self._clock()
        if self._until is not None and now < self._until:
            return self._until  # another send in flight met the same trouble
        self._pause = self._base if self._pause == 0 else min(self._pause * 2, self._cap)
        # Kept here: a send that succeeds while we announce opens the gate (self._until).
        until = self._until = now + timedelta(seconds=self._pause)
        said = {"destination": self._destination, "reason": reason, "pause_seconds": self._pause}
        if self._since is None:
            self._since = now
            self._gauge.set(1)
            log.error(f"{self._event}_paused", **said)
        else:
            log.info(f"{self._event}_still_failing", **said)
        await self._announce(reason, self._since, until)
        return until

    async def succeeded(self) -> None:
        """A send went through: open the gate, and say so if it had been closed."""
        if self._since is None:
            return
        paused = (self._clock() - self._since).total_seconds()
        self._pause, self._since, self._until = 0.0, None, None
        self._gauge.set(0)
        log.warning(
            f"{self._event}_resumed",
            destination=self._destination,
            paused_seconds=round(paused, 1),
        )
        await self._announce(None, None, None)
