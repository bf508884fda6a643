"""Mails published in one turn of the event loop travel as a few messages, not one each.

A message costs RabbitMQ and both clients the same whatever it carries: three frames
written, read and parsed in Python, a message object, tasks, a confirm, a share of an ack,
a Raft entry in a quorum queue. Per mail that was what made delivery over RabbitMQ slower
than over the database (bench/README.md, "What limits"). The relay hands over the rows
of one claim within one turn of its loop; they are gathered here and published as
messages of up to `MAILS_PER_MESSAGE` mails (wire.batch_body), one alone as before
(wire.body). Every caller returns once the messages holding its mails are confirmed, or
sees the error that stopped them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from regmail.brokers.base import Message

# A worker holds up to its prefetch (its concurrency) times this many mails, handling its
# concurrency of them at once; more saves little more per mail (bench/README.md).
MAILS_PER_MESSAGE = 8

Send = Callable[[Sequence[Message]], Awaitable[None]]


class PublishTurns:
    def __init__(self, send: Send) -> None:
        self._send = send  # one message's worth: one mail or a batch
        self._gathered: list[Message] = []
        self._next: asyncio.Task[None] | None = None

    async def publish(self, messages: Sequence[Message]) -> None:
        """Published with the others of this turn; confirmed when this returns."""
        if self._next is None:
            self._gathered = []
            # A task of its own: a caller cancelled while waiting stops no one else's mails.
            self._next = asyncio.create_task(self._publish_gathered())
            self._next.add_done_callback(_retrieved)
        self._gathered.extend(messages)
        await asyncio.shield(self._next)

    async def _publish_gathered(self) -> None:
        await asyncio.sleep(0)  # one turn: the others publishing now add theirs
        gathered, self._next = self._gathered, None
        size = MAILS_PER_MESSAGE
        parts = [gathered[i : i + size] for i in range(0, len(gathered), size)]
        await asyncio.gather(*(self._send(part) for part in parts))


def _retrieved(task: asyncio.Task[None]) -> None:
    """Every caller saw the error; none left to see it is no unhandled error."""
    with contextlib.suppress(asyncio.CancelledError):
        task.exception()
