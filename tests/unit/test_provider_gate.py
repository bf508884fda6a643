from __future__ import annotations

from datetime import UTC, datetime, timedelta

from regmail.delivery.provider import ProviderGate

T0 = datetime(2026, 11, 25, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_pauses_double_up_to_the_cap_and_a_success_reopens() -> None:
    clock = Clock()
    said: list[tuple[str | None, datetime | None, datetime | None]] = []

    async def announce(reason: str | None, since: datetime | None, until: datetime | None) -> None:
        said.append((reason, since, until))

    gate = ProviderGate(base_seconds=1, cap_seconds=4, announce=announce, clock=clock)
    assert gate.closed_until() is None
    pauses = []
    for _ in range(5):
        until = await gate.trip("535 authentication failed")
        # Another send failing the same way while closed does not lengthen the pause.
        assert await gate.trip("535 authentication failed") == until
        assert gate.closed_until() == until
        pauses.append((until - clock.now).total_seconds())
        clock.now = until
        assert gate.closed_until() is None
    assert pauses == [1, 2, 4, 4, 4]
    assert {s[1] for s in said} == {T0}  # one pause, since its first failure

    await gate.succeeded()
    assert said[-1] == (None, None, None)
    assert await gate.trip("refused") - clock.now == timedelta(seconds=1)  # back to the start


async def test_a_success_while_the_pause_is_announced_still_gives_the_failed_send_a_time() -> None:
    gate: ProviderGate

    async def announce(reason: str | None, since: datetime | None, until: datetime | None) -> None:
        if reason is not None:
            await gate.succeeded()  # another send got through during this database write

    clock = Clock()
    gate = ProviderGate(base_seconds=1, announce=announce, clock=clock)
    assert await gate.trip("refused") == T0 + timedelta(seconds=1)
    assert gate.closed_until() is None  # the success opened it
