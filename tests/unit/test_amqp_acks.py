"""brokers/amqp_acks.py: acks gathered over one turn of the loop, one basic.ack with
multiple=True for those below every delivery still open, alone for the rest."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from aio_pika.abc import AbstractIncomingMessage

from regmail.brokers.amqp_acks import ChannelAcks


@dataclass
class Channel:
    """What the broker was told, in order: ("ack" | "nack", tag, multiple)."""

    frames: list[tuple[str, int, bool]] = field(default_factory=list)
    # (sending, proceed): the next ack says it is being sent, then waits to be let through
    hold: tuple[asyncio.Event, asyncio.Event] | None = None


@dataclass
class Delivery:
    channel: Channel
    delivery_tag: int

    async def ack(self, multiple: bool = False) -> None:
        await asyncio.sleep(0)  # a write, as aiormq's
        if self.channel.hold is not None:
            sending, proceed = self.channel.hold
            self.channel.hold = None
            sending.set()
            await proceed.wait()
        self.channel.frames.append(("ack", self.delivery_tag, multiple))

    async def nack(self, requeue: bool = True) -> None:
        self.channel.frames.append(("nack", self.delivery_tag, False))


def deliveries(acks: ChannelAcks, channel: Channel, count: int) -> list[AbstractIncomingMessage]:
    messages = [
        cast(AbstractIncomingMessage, Delivery(channel, tag)) for tag in range(1, count + 1)
    ]
    for message in messages:
        acks.delivered(message)
    return messages


def run(*coroutines: Any) -> None:
    async def together() -> None:
        await asyncio.gather(*coroutines)

    asyncio.run(together())


def test_messages_finishing_together_are_acked_in_one_frame() -> None:
    acks, channel = ChannelAcks(), Channel()
    messages = deliveries(acks, channel, 3)
    run(*(acks.ack(m) for m in reversed(messages)))
    assert channel.frames == [("ack", 3, True)]


def test_a_message_above_one_still_open_is_acked_alone() -> None:
    acks, channel = ChannelAcks(), Channel()
    first, second, third = deliveries(acks, channel, 3)
    run(acks.ack(second), acks.ack(third))
    assert sorted(channel.frames) == [("ack", 2, False), ("ack", 3, False)]
    run(acks.ack(first))  # the slow one, later: alone too, covering nothing else
    assert channel.frames[-1] == ("ack", 1, True)


def test_below_the_lowest_open_together_above_it_alone() -> None:
    acks, channel = ChannelAcks(), Channel()
    one, two, _still_open, four = deliveries(acks, channel, 4)
    run(acks.ack(one), acks.ack(two), acks.ack(four))
    assert sorted(channel.frames) == [("ack", 2, True), ("ack", 4, False)]


def test_a_nacked_message_does_not_hold_the_ones_above() -> None:
    acks, channel = ChannelAcks(), Channel()
    one, two = deliveries(acks, channel, 2)
    run(acks.nack(one))
    run(acks.ack(two))
    assert channel.frames == [("nack", 1, False), ("ack", 2, True)]


def test_a_message_finishing_while_the_others_are_sent_is_not_left_behind() -> None:
    acks, channel = ChannelAcks(), Channel()
    one, two = deliveries(acks, channel, 2)

    async def second_finishes_during_the_first_send() -> None:
        sending, proceed = asyncio.Event(), asyncio.Event()
        channel.hold = (sending, proceed)
        first = asyncio.create_task(acks.ack(one))
        await sending.wait()
        await acks.ack(two)  # returns at once: the first one's sender sends it
        proceed.set()
        await first

    asyncio.run(second_finishes_during_the_first_send())
    assert channel.frames == [("ack", 1, True), ("ack", 2, True)]
