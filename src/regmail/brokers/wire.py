"""What every broker does alike: a message's wire form and headers, the choice of a retry
step, how an outcome is settled, and the one guard around handler and settle.

What differs stays in each broker's module, behind `Delivered`: what can be done with one
message as that broker handed it over (delete or reschedule a lease row; publish to a TTL
queue and ack; produce to a retry topic and let the offset be committed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from regmail.brokers.base import Ack, Dead, Handler, Message, Outcome, RetryAt
from regmail.metrics import HANDLER_FAILURES

log = structlog.get_logger(__name__)

DUE = "x-regmail-due-ms"  # not to be handled before (epoch milliseconds)
EARLIER = "x-regmail-deliveries"  # deliveries before it was parked (a parked copy counts anew)
REASON = "x-regmail-reason"  # why it was parked or buried
TRACE = "traceparent"  # W3C trace context, so the worker's spans join the sign-up's trace
EARLY_TOLERANCE_SECONDS = 0.01
HANDLER_FAILED = "handler-failed"  # the reason of a message parked because something raised
MAX_REASON = 500


@dataclass(frozen=True)
class Received:
    """A message as a broker handed it over: when it is due, and why it was parked."""

    message: Message
    due: float = 0.0  # epoch seconds; a message that comes back earlier is parked again
    reason: str = ""


def body(message: Message) -> bytes:
    return json.dumps({"mail_id": message.mail_id, "key": message.key}).encode()


def batch_body(messages: Sequence[Message]) -> bytes:
    """Several messages as one (a JSON array): each its mail id, key and trace. A batch is
    never parked or buried whole: what cannot be acknowledged goes on as messages of its
    own (body() and headers())."""
    mails = [{"mail_id": m.mail_id, "key": m.key, "trace": m.trace} for m in messages]
    return json.dumps(mails).encode()


def is_batch(data: bytes) -> bool:
    return data[:1] == b"["  # batch_body(); body() is an object


def received_batch(data: bytes, redeliveries: int = 0) -> list[Message]:
    """The messages of a batch_body(), each delivered `redeliveries` times before."""
    return [
        Message(fields["mail_id"], fields["key"], redeliveries + 1, fields.get("trace", ""))
        for fields in json.loads(data)
    ]


def received(
    data: bytes,
    headers: Mapping[str, object],
    redeliveries: int = 0,
    limit_reached: bool = False,
) -> Received:
    """A message read off the wire. `redeliveries`: how often the broker handed out this
    copy before (RabbitMQ counts; Kafka cannot know)."""
    fields = json.loads(data)
    delivery = int(str(headers.get(EARLIER, 0))) + redeliveries + 1
    trace = str(headers.get(TRACE, ""))
    message = Message(fields["mail_id"], fields["key"], delivery, trace, limit_reached)
    due = int(str(headers.get(DUE, 0))) / 1000
    return Received(message, due, str(headers.get(REASON, "")))


def headers(
    message: Message, reason: str | None = None, due: float | None = None
) -> dict[str, str]:
    """Headers of a message sent on: its trace; parked or buried, why and how often it was
    delivered; parked, when it is due."""
    sent: dict[str, str] = {TRACE: message.trace} if message.trace else {}
    if reason is not None:
        sent[REASON] = reason[:MAX_REASON]
        sent[EARLIER] = str(message.delivery)
    if due is not None:
        sent[DUE] = str(int(due * 1000))
    return sent


def retry_step(steps: Sequence[float], due: float, now: float) -> int:
    """Index of the longest of the ascending `steps` that ends by `due` (else the first):
    a message waits on it, and hops again if it comes back early."""
    fitting = [i for i, step in enumerate(steps) if step <= due - now]
    return fitting[-1] if fitting else 0


class Delivered(Protocol):
    """One message as a broker handed it over, and what can be done with it."""

    async def ack(self) -> None:
        """Done: never deliver it again."""

    async def park(self, due: float, reason: str) -> None:
        """Deliver it again, not before `due` (epoch seconds)."""

    async def bury(self, reason: str) -> None:
        """Never deliver it again unless an operator replays it."""

    async def release(self) -> None:
        """Give it back unsettled, to be delivered again (never raises)."""


async def settle(delivered: Delivered, outcome: Outcome) -> None:
    if isinstance(outcome, Ack):
        await delivered.ack()
    elif isinstance(outcome, RetryAt):
        await delivered.park(outcome.when.timestamp(), outcome.reason)
    elif isinstance(outcome, Dead):
        await delivered.bury(outcome.reason)
    else:
        raise TypeError(f"not an outcome: {outcome!r}")


async def deliver(
    handler: Handler, message: Received, delivered: Delivered, failed_delay: float
) -> bool:
    """Handle one message and settle its outcome; whether it was settled.

    A handler that raises, or a settle that raises, parks the message for `failed_delay`
    seconds (logged with the mail id, counted in regmail_handler_failures_total); if even
    that fails, the message goes back to the broker unsettled (False). Never is a message
    left unacknowledged or a partition held.
    """
    mail_id = message.message.mail_id
    if message.due > time.time() + EARLY_TOLERANCE_SECONDS:  # back before its time
        outcome: Outcome = RetryAt(datetime.fromtimestamp(message.due, UTC), message.reason)
    else:
        try:
            outcome = await handler(message.message)
        except Exception:
            log.exception("handler_failed", mail_id=mail_id)
            HANDLER_FAILURES.labels("handler").inc()
            outcome = RetryAt(
                datetime.fromtimestamp(time.time() + failed_delay, UTC), HANDLER_FAILED
            )
    try:
        await settle(delivered, outcome)
        return True
    except Exception:
        log.exception("settle_failed", mail_id=mail_id, outcome=type(outcome).__name__)
        HANDLER_FAILURES.labels("settle").inc()
    try:
        await delivered.park(time.time() + failed_delay, HANDLER_FAILED)
        return True
    except Exception as error:
        log.warning("park_failed", mail_id=mail_id, error=repr(error))
    await delivered.release()
    return False
