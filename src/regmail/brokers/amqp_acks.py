"""The acknowledgements of one AMQP channel's deliveries, several in one frame.

Messages handled together finish together: a group commit returns to all of them in one
turn of the event loop. Their acks are gathered over that turn and sent as one basic.ack
with `multiple=True` on the highest tag below every delivery still being handled, which
settles every unsettled tag up to it (AMQP 0-9-1). A finished message above a delivery
still being handled (one slow mail holds a low tag) is acked alone in the same turn, as
before, so it never holds a prefetch slot waiting for the slow one.

Nothing is acked before its message is settled by its handler; a consumer that dies with
acks gathered but unsent is a consumer that died before acking: the broker redelivers
those messages, and the worker's idempotency finds them done.
"""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractIncomingMessage


class ChannelAcks:
    def __init__(self) -> None:
        self._open: set[int] = set()  # delivered and not yet settled
        self._finished: dict[int, AbstractIncomingMessage] = {}  # to ack, not yet sent
        self._gathering = False

    def delivered(self, message: AbstractIncomingMessage) -> None:
        self._open.add(_tag(message))

    async def ack(self, message: AbstractIncomingMessage) -> None:
        """Acked in this turn of the loop, with the others that finish in it; the first
        to finish sends them all (and sees an error sending, if there is one)."""
        self._finished[_tag(message)] = message
        if self._gathering:
            return
        self._gathering = True
        try:
            await asyncio.sleep(0)  # one turn: the others finishing now add theirs
            while self._finished:  # and those that finished while this one was sending
                await self._send()
        finally:
            self._gathering = False

    async def nack(self, message: AbstractIncomingMessage) -> None:
        """Back to the queue, alone and at once."""
        self._open.discard(_tag(message))
        await message.nack(requeue=True)

    async def _send(self) -> None:
        finished, self._finished = self._finished, {}
        self._open -= finished.keys()
        lowest_open = min(self._open, default=None)
        alone = [t for t in finished if lowest_open is not None and t > lowest_open]
        if together := finished.keys() - alone:
            await finished[max(together)].ack(multiple=True)
        for tag in alone:
            await finished[tag].ack()


def _tag(message: AbstractIncomingMessage) -> int:
    tag = message.delivery_tag
    assert tag is not None  # a message delivered to a consumer that acks has one
    return tag
