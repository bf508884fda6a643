"""Delivery: consume → claim → send → sent | retrying | dead, recorded before the ack.

A mail is rendered and sent over SMTP; an event is delivered as JSON to its destination
(delivery/events.py), after every earlier event of its account to that destination. The
row is the source of truth (mails/attempts.py). A message already `sent` or `dead` is
acknowledged without sending, so a redelivered message does not send twice. The one window
left: the receiver accepted it (250, 2xx) and the process died before the row said `sent`.
Then the lease runs out and it is sent again (docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from opentelemetry.trace import SpanKind

from regmail.brokers.base import Ack, Broker, Dead, Message, Outcome, RetryAt
from regmail.clock import utcnow
from regmail.delivery import report
from regmail.delivery.events import EventSender
from regmail.delivery.pace import Pace
from regmail.delivery.provider import ProviderGate
from regmail.mail.render import MailToRender, RenderedMail, Renderer
from regmail.mail.replies import SendFailed, SendFailure, classify, is_hard_bounce
from regmail.mail.smtp import SmtpPool
from regmail.mails.attempts import Attempts, Claim, NotClaimed, Why
from regmail.mails.kinds import Channel
from regmail.mails.queue import EVENT_KEY
from regmail.mails.retry import RetryPolicy
from regmail.mails.sealing import Sealer, SealError
from regmail.mails.status import DeadReason, MailStatus
from regmail.mails.suppressions import Suppressions
from regmail.tracing import span

log = structlog.get_logger(__name__)

PAUSED = "delivery paused: the SMTP provider fails"
SMTP = "smtp"  # the gate of mail; an event destination's gate is named after it


class Undeliverable(Exception):
    def __init__(self, reason: DeadReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Wait(Exception):
    """Not now, through no fault of the message: no attempt counted."""

    def __init__(self, until: datetime, why: str) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


class Delivery:
    def __init__(
        self,
        attempts: Attempts,
        suppressions: Suppressions,
        sealer: Sealer,
        renderer: Renderer,
        smtp: SmtpPool,
        policy: RetryPolicy,
        gates: Callable[[str], ProviderGate] = lambda _: ProviderGate(),
        pace: Pace | None = None,
        events: EventSender | None = None,
    ) -> None:
        self._attempts = attempts
        self._suppressions = suppressions
        self._sealer = sealer
        self._renderer = renderer
        self._smtp = smtp
        self._policy = policy  # for kinds without a policy of their own
        self._new_gate = gates
        self._gates: dict[str, ProviderGate] = {}  # a destination's pause: smtp, each endpoint
        self._pace = pace
        self._events = events

    async def handle(self, message: Message) -> Outcome:
        with span("deliver", SpanKind.CONSUMER, message.trace) as current:
            current.set_attribute("regmail.mail_id", message.mail_id)
            current.set_attribute("regmail.delivery", message.delivery)
            outcome = await self._deliver(message)
            current.set_attribute("regmail.outcome", type(outcome).__name__)
            return outcome

    async def _deliver(self, message: Message) -> Outcome:
        if message.limit_reached:  # workers died holding it: never try it again unasked
            return await self._over_delivery_limit(message.mail_id)
        if not message.key.startswith(EVENT_KEY):
            paused_until = self._gate(SMTP).closed_until()
            if paused_until is not None:  # no attempt is counted while the provider is away
                return RetryAt(paused_until, PAUSED)
        claim = await self._attempts.claim(message.mail_id)
        if isinstance(claim, NotClaimed):
            return await self._not_claimed(message.mail_id, claim)
        send = self._send_event if claim.channel == Channel.EVENT else self._send_mail
        try:
            reply = await send(claim)
        except Undeliverable as error:
            return await self._dead(claim, error.reason, error.detail)
        except Wait as wait:
            await self._attempts.record(
                claim, MailStatus.RETRYING, next_attempt_at=wait.until, give_back=True
            )
            return RetryAt(wait.until, wait.why)
        except SendFailed as failed:
            return await self._failed(claim, failed.failure)
        await self._gate_of(claim).succeeded()
        await self._attempts.record(
            claim, MailStatus.SENT, last_reply=reply, scrub=self._holds_secret(claim)
        )
        report.sent(claim.id, claim.kind, claim.attempts)
        return Ack()

    async def _send_mail(self, claim: Claim) -> str:
        rendered = self._render(claim)
        if self._pace is not None:
            await self._pace.wait()
        try:
            return await self._smtp.send(rendered.sender, rendered.recipient, rendered.data)
        except Exception as error:
            raise SendFailed(classify(error)) from error

    async def _send_event(self, claim: Claim) -> str:
        if self._events is None or not self._events.knows(claim.recipient):
            detail = f"no destination {claim.recipient!r} in this worker's settings"
            report.undeliverable(claim.id, DeadReason.NO_DESTINATION, detail)
            raise Undeliverable(DeadReason.NO_DESTINATION, detail)
        earlier = await self._attempts.earlier_unfinished(claim)
        if earlier is not None:  # in order per account and destination
            raise Wait(earlier, "an earlier event of this account is not delivered yet")
        paused_until = self._gate(claim.recipient).closed_until()
        if paused_until is not None:
            raise Wait(paused_until, f"delivery to {claim.recipient} paused: it fails")
        event = self._open(claim)
        body = json.dumps(event, separators=(",", ":")).encode()
        key = claim.account_id or claim.id  # a consumer's order: per account
        return await self._events.send(claim.recipient, claim.kind, key, str(event["id"]), body)

    def _open(self, claim: Claim) -> dict[str, Any]:
        try:
            return self._sealer.open(claim.id, claim.payload)
        except SealError as error:  # a key missing from the settings: an operator's fix
            report.undeliverable(claim.id, DeadReason.SECRET_KEY, str(error))
            raise Undeliverable(DeadReason.SECRET_KEY, str(error)) from None

    async def _not_claimed(self, mail_id: str, why: NotClaimed) -> Outcome:
        if why.why == Why.FINISHED:
            return Ack()  # a redelivery: the outcome is already recorded
        if why.why == Why.EXPIRED:  # recorded dead by the claim
            report.dead(DeadReason.EXPIRED)
            return Dead(DeadReason.EXPIRED)
        if why.why == Why.MISSING:
            report.undeliverable(mail_id, DeadReason.UNKNOWN_MAIL, why.why)
            report.dead(DeadReason.UNKNOWN_MAIL)
            return Dead(DeadReason.UNKNOWN_MAIL)
        assert why.until is not None
        return RetryAt(why.until, why.why)

    def _render(self, claim: Claim) -> RenderedMail:
        payload = self._open(claim)
        if claim.kind not in self._renderer.kinds:  # queued by a process that knows it
            detail = f"no kind {claim.kind!r} in this worker: set REGMAIL_KINDS, then replay"
            report.undeliverable(claim.id, DeadReason.UNKNOWN_KIND, detail)
            raise Undeliverable(DeadReason.UNKNOWN_KIND, detail)
        mail = MailToRender(
            claim.id, claim.kind, claim.recipient, claim.locale, payload, claim.expires_at
        )
        try:
            return self._renderer.render(mail)
        except Exception as error:  # a template bug: retrying will not fix it
            report.undeliverable(claim.id, DeadReason.RENDER_ERROR, repr(error), traceback=True)
            raise Undeliverable(DeadReason.RENDER_ERROR, repr(error)) from None

    async def _failed(self, claim: Claim, failure: SendFailure) -> Outcome:
        if failure.kind == "provider":
            until = await self._gate_of(claim).trip(failure.reply)
            # Not this message's fault: its attempt is given back, and it waits for the gate.
            await self._attempts.record(
                claim,
                MailStatus.RETRYING,
                last_reply=failure.reply,
                next_attempt_at=until,
                give_back=True,
            )
            return RetryAt(until, failure.reply)
        if failure.permanent:
            report.rejected(claim.id, failure.reply)
            dead = await self._dead(claim, DeadReason.REJECTED, failure.reply)
            if (
                claim.channel == Channel.MAIL
                and is_hard_bounce(failure.reply)
                and await self._suppressions.add(claim.recipient, failure.reply, claim.id)
            ):
                report.suppressed(claim.id, failure.reply)
            return dead
        decision = self._next_attempt(claim, failure)
        if isinstance(decision, DeadReason):
            report.gave_up(claim.id, decision, failure.reply)
            return await self._dead(claim, decision, failure.reply)
        await self._attempts.record(
            claim, MailStatus.RETRYING, last_reply=failure.reply, next_attempt_at=decision
        )
        report.retrying(claim.id, claim.attempts, failure.reply)
        return RetryAt(decision, failure.reply)

    def _next_attempt(self, claim: Claim, failure: SendFailure) -> datetime | DeadReason:
        """The policy's next attempt, no sooner than the receiver's Retry-After."""
        kind = self._renderer.kinds.get(claim.kind)
        policy = kind.retry if kind is not None and kind.retry else self._policy
        now = utcnow()
        decision = policy.next_attempt(
            claim.budget_attempts, claim.budget_since, now, claim.expires_at
        )
        if isinstance(decision, DeadReason) or failure.retry_after is None:
            return decision
        return max(decision, now + timedelta(seconds=failure.retry_after))

    def _gate(self, destination: str) -> ProviderGate:
        if destination not in self._gates:
            self._gates[destination] = self._new_gate(destination)
        return self._gates[destination]

    def _gate_of(self, claim: Claim) -> ProviderGate:
        return self._gate(claim.recipient if claim.channel == Channel.EVENT else SMTP)

    def _holds_secret(self, claim: Claim) -> bool:
        kind = self._renderer.kinds.get(claim.kind)
        return kind.secret if kind is not None else True  # unknown: assume it does

    async def _dead(self, claim: Claim, reason: DeadReason, reply: str) -> Dead:
        await self._attempts.record(
            claim,
            MailStatus.DEAD,
            reason=reason,
            last_reply=reply,
            scrub=self._holds_secret(claim),
        )
        report.dead(reason)
        return Dead(reason)

    async def _over_delivery_limit(self, mail_id: str) -> Outcome:
        reason = DeadReason.DELIVERY_LIMIT
        if not await self._attempts.give_up(mail_id, reason):
            return Ack()  # finished meanwhile (or never existed): nothing left to do
        report.undeliverable(mail_id, reason, "handed out as often as the broker allows")
        report.dead(reason)
        return Dead(reason)


async def run_worker(
    broker: Broker,
    delivery: Delivery,
    concurrency: int,
    stop: asyncio.Event,
    grace_seconds: float = 30.0,
) -> None:
    """Consume until `stop`; then let the sends in flight finish, for `grace_seconds` at
    most. Past that they are cut off, as by a crash: their mails come back after the lease
    (or on the broker's redelivery) to another worker."""
    log.info("worker_started", broker=broker.name, concurrency=concurrency)
    consuming = asyncio.create_task(broker.consume(delivery.handle, concurrency, stop))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({consuming, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not consuming.done():
        done, _ = await asyncio.wait({consuming}, timeout=grace_seconds)
        if not done:
            log.warning("worker_grace_expired", grace_seconds=grace_seconds)
            consuming.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consuming
    log.info("worker_stopped")
