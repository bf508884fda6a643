"""mail/turns.py: one waiter woken per room that frees, in the order they came; a waiter
woken and then cancelled hands its turn on, so no waiter is left behind a room."""

from __future__ import annotations

import asyncio

from regmail.mail.turns import Turns


async def _turn_of(turns: Turns, name: str, woke: list[str], first: bool = False) -> None:
    await turns.wait(first=first)
    woke.append(name)


async def _waiting(turns: Turns, names: list[str], woke: list[str]) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(_turn_of(turns, name, woke)) for name in names]
    await asyncio.sleep(0)  # each is queued, in this order
    return tasks


async def test_a_wake_reaches_one_waiter_the_longest_waiting() -> None:
    turns, woke = Turns(), []
    tasks = await _waiting(turns, ["a", "b", "c"], woke)
    turns.wake_one()
    await tasks[0]
    await asyncio.sleep(0)
    assert woke == ["a"]
    assert not tasks[1].done() and not tasks[2].done()
    turns.wake_one()
    turns.wake_one()
    await asyncio.gather(*tasks)
    assert woke == ["a", "b", "c"]


async def test_a_waiter_woken_then_cancelled_hands_its_turn_to_the_next() -> None:
    turns, woke = Turns(), []
    first, second = await _waiting(turns, ["a", "b"], woke)
    turns.wake_one()
    first.cancel()  # before it ran: the wake it was given must not be lost
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 5)
    assert woke == ["b"]


async def test_a_waiter_cancelled_while_waiting_takes_no_turn() -> None:
    turns, woke = Turns(), []
    first, second = await _waiting(turns, ["a", "b"], woke)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    turns.wake_one()
    await asyncio.wait_for(second, 5)
    assert woke == ["b"]


async def test_a_waiter_that_found_its_room_taken_waits_ahead_of_the_others() -> None:
    turns, woke = Turns(), []
    tasks = await _waiting(turns, ["b", "c"], woke)
    again = asyncio.create_task(_turn_of(turns, "a", woke, first=True))
    await asyncio.sleep(0)
    turns.wake_one()
    await again
    assert woke == ["a"]
    turns.wake_one()
    turns.wake_one()
    await asyncio.gather(*tasks)
    assert woke == ["a", "b", "c"]


async def test_a_wake_with_nobody_waiting_is_not_kept_for_later() -> None:
    turns, woke = Turns(), []
    turns.wake_one()
    (late,) = await _waiting(turns, ["a"], woke)
    await asyncio.sleep(0)
    assert not late.done()
    turns.wake_one()
    await late
    assert woke == ["a"]
