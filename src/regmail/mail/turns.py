"""Mails waiting for room in the SMTP pool, woken one per room that frees.

Waking every waiter when one mail finishes made each of them scan the pool and all but one
wait again: with a worker's hundreds of mails in flight, about eight wake-ups a mail
(counted under bench's delivery scenario), each a task step and a scan. One room frees,
one waiter looks. A waiter cancelled after it was woken, before it could look, hands its
turn to the next (asyncio.Condition in Python 3.11 loses such a wake-up), so no room is
left unseen while mails wait.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def wait(self, first: bool = False) -> None:
        """Until `wake_one` picks this waiter; `first`: ahead of those waiting (a waiter
        woken for room another took keeps its place)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._waiting.appendleft(waiter)
        else:
            self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.wake_one()  # woken, then cancelled: the room is the next one's
            raise

    def wake_one(self) -> None:
        """Wake the longest waiting (nothing when none waits)."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled waiter stays queued until here
                waiter.set_result(None)
                return
