"""Delivery: consume → claim → render → send → sent | retrying | dead, recorded before the ack.

The mail's row is the source of truth (mails/attempts.py). A message for a mail already
`sent` or `dead` is acknowledged without sending, so a redelivered message does not send
twice. The one window left: the SMTP server accepted the mail (250) and the process died
before the row said `sent`. Then the lease runs out and the mail is sent again
(docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from opentelemetry.trace import SpanKind

from regmail.brokers.base import Ack, Broker, Dead, Message, Outcome, RetryAt
from regmail.clock import utcnow
from regmail.delivery import report
from regmail.delivery.pace import Pace
from regmail.delivery.provider import ProviderGate
from regmail.mail.render import MailToRender, RenderedMail, Renderer
from regmail.mail.replies import SendFailure, classify, is_hard_bounce
from regmail.mail.smtp import SmtpPool
from regmail.mails.attempts import Attempts, Claim, NotClaimed, Why
from regmail.mails.retry import RetryPolicy
from regmail.mails.sealing import Sealer, SealError
from regmail.mails.status import DeadReason, MailStatus
from regmail.mails.suppressions import Suppressions
from regmail.tracing import context_from, tracer

log = structlog.get_logger(__name__)

PAUSED = "delivery paused: the SMTP provider fails"


class Undeliverable(Exception):
    def __init__(self, reason: DeadReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Delivery:
    def __init__(
        self,
        attempts: Attempts,
        suppressions: Suppressions,
        sealer: Sealer,
        renderer: Renderer,
        smtp: SmtpPool,
        policy: RetryPolicy,
        gate: ProviderGate | None = None,
        pace: Pace | None = None,
    ) -> None:
        self._attempts = attempts
        self._suppressions = suppressions
        self._sealer = sealer
        self._renderer = renderer
        self._smtp = smtp
        self._policy = policy  # for kinds without a policy of their own
        self._gate = gate or ProviderGate()
        self._pace = pace

    async def handle(self, message: Message) -> Outcome:
        parent = context_from(message.trace)
        with tracer.start_as_current_span(
            "deliver", context=parent, kind=SpanKind.CONSUMER
        ) as span:
            span.set_attribute("regmail.mail_id", message.mail_id)
            span.set_attribute("regmail.delivery", message.delivery)
            outcome = await self._deliver(message)
            span.set_attribute("regmail.outcome", type(outcome).__name__)
            return outcome

    async def _deliver(self, message: Message) -> Outcome:
        if message.limit_reached:  # workers died holding it: never try it again unasked
            return await self._over_delivery_limit(message.mail_id)
        paused_until = self._gate.closed_until()
        if paused_until is not None:  # no attempt is counted while the provider is away
            return RetryAt(paused_until, PAUSED)
        claim = await self._attempts.claim(message.mail_id)
        if isinstance(claim, NotClaimed):
            return await self._not_claimed(message.mail_id, claim)
        try:
            rendered = self._render(claim)
        except Undeliverable as error:
            return await self._dead(claim, error.reason, error.detail)
        if self._pace is not None:
            await self._pace.wait()
        try:
            reply = await self._smtp.send(rendered.sender, rendered.recipient, rendered.data)
        except Exception as error:
            return await self._failed(claim, classify(error))
        await self._gate.succeeded()
        await self._attempts.record(
            claim, MailStatus.SENT, last_reply=reply, scrub=self._holds_secret(claim)
        )
        report.sent(claim.id, claim.kind, claim.attempts)
        return Ack()

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
        try:
            payload = self._sealer.open(claim.id, claim.payload)
        except SealError as error:  # a key missing from the settings: an operator's fix
            report.undeliverable(claim.id, DeadReason.SECRET_KEY, str(error))
            raise Undeliverable(DeadReason.SECRET_KEY, str(error)) from None
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
            until = await self._gate.trip(failure.reply)
            # Not this mail's fault: its attempt is given back, and it waits for the gate.
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
            if is_hard_bounce(failure.reply) and await self._suppressions.add(
                claim.recipient, failure.reply, claim.id
            ):
                report.suppressed(claim.id, failure.reply)
            return dead
        kind = self._renderer.kinds[claim.kind]
        decision = (kind.retry or self._policy).next_attempt(
            claim.budget_attempts, claim.budget_since, utcnow(), claim.expires_at
        )
        if isinstance(decision, DeadReason):
            report.gave_up(claim.id, decision, failure.reply)
            return await self._dead(claim, decision, failure.reply)
        await self._attempts.record(
            claim, MailStatus.RETRYING, last_reply=failure.reply, next_attempt_at=decision
        )
        report.retrying(claim.id, claim.attempts, failure.reply)
        return RetryAt(decision, failure.reply)

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
