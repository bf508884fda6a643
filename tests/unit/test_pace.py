from __future__ import annotations

import pytest

from regmail.delivery.pace import Pace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sends_are_spaced_evenly_without_a_burst() -> None:
    clock = Clock()
    pace = Pace(4, clock)  # 4 a second: 0.25 s apart
    assert [pace.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    clock.now += 10  # idle a long while: no credit saved up for a burst
    assert pace.reserve() == 0.0
    assert pace.reserve() == pytest.approx(0.25)
