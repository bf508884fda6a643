"""brokers/amqp_batches.py and wire's batch form: mails published in one turn of the loop
go out as messages of up to MAILS_PER_MESSAGE, in order; each caller returns once its
mails are confirmed, or sees the error; a caller cancelled stops nobody else's mails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from regmail.brokers import wire
from regmail.brokers.amqp_batches import MAILS_PER_MESSAGE, PublishTurns
from regmail.brokers.base import Message


def _mails(n: int) -> list[Message]:
    return [Message(str(uuid.uuid4()), f"u{i}@example.com", trace=f"t{i}") for i in range(n)]


class Sent:
    def __init__(self, fail: bool = False) -> None:
        self.messages: list[list[Message]] = []
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()

    async def send(self, mails: Sequence[Message]) -> None:
        await self.release.wait()  # the broker's confirm
        if self.fail:
            raise ConnectionError("channel closed")
        self.messages.append(list(mails))


async def test_mails_published_in_one_turn_go_as_messages_of_up_to_the_limit() -> None:
    sent = Sent()
    turns = PublishTurns(sent.send)
    mails = _mails(2 * MAILS_PER_MESSAGE + 3)
    await asyncio.gather(*(turns.publish([m]) for m in mails))
    assert [len(m) for m in sent.messages] == [MAILS_PER_MESSAGE, MAILS_PER_MESSAGE, 3]
    assert [m for message in sent.messages for m in message] == mails  # in order


async def test_a_publish_in_a_later_turn_goes_in_a_later_message() -> None:
    sent = Sent()
    turns = PublishTurns(sent.send)
    first, second = _mails(2)
    await turns.publish([first])
    await turns.publish([second])
    assert sent.messages == [[first], [second]]


async def test_every_caller_of_the_turn_waits_for_the_confirm() -> None:
    sent = Sent()
    sent.release.clear()
    turns = PublishTurns(sent.send)
    callers = [asyncio.create_task(turns.publish([m])) for m in _mails(3)]
    await asyncio.sleep(0.05)
    assert not any(caller.done() for caller in callers)
    sent.release.set()
    await asyncio.wait_for(asyncio.gather(*callers), 5)
    assert len(sent.messages) == 1


async def test_an_error_reaches_every_caller_of_the_turn() -> None:
    turns = PublishTurns(Sent(fail=True).send)
    results = await asyncio.gather(*(turns.publish([m]) for m in _mails(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results), results


async def test_a_caller_cancelled_while_waiting_stops_no_one_elses_mails() -> None:
    sent = Sent()
    sent.release.clear()
    turns = PublishTurns(sent.send)
    mine, theirs = _mails(2)
    cancelled = asyncio.create_task(turns.publish([mine]))
    other = asyncio.create_task(turns.publish([theirs]))
    await asyncio.sleep(0.05)
    cancelled.cancel()
    sent.release.set()
    await asyncio.wait_for(other, 5)
    assert sent.messages == [[mine, theirs]]
    with pytest.raises(asyncio.CancelledError):
        await cancelled


def test_a_batch_reads_back_as_its_mails_each_counting_the_deliveries() -> None:
    mails = _mails(3)
    data = wire.batch_body(mails)
    assert wire.is_batch(data)
    assert not wire.is_batch(wire.body(mails[0]))
    back = wire.received_batch(data, redeliveries=1)
    assert [(m.mail_id, m.key, m.trace, m.delivery) for m in back] == [
        (m.mail_id, m.key, m.trace, 2) for m in mails
    ]
