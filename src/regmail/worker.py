"""Delivery: consume → render → send → sent | retrying | dead, recorded before the ack.

The mail's row is the source of truth. A message for a mail already `sent` or `dead` is
acknowledged without sending, so a redelivered message does not send twice. The one
window left: the SMTP server accepted the mail (250) and the process died before the row
said `sent`. Then the lease runs out and the mail is sent again (docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy import BindParameter, Row, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.brokers.base import Ack, Broker, Dead, Message, Outcome, RetryAt
from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS
from regmail.db.group_commit import GroupCommit
from regmail.db.tables import mails
from regmail.mail.provider import ProviderGate
from regmail.mail.render import MailToRender, Renderer
from regmail.mail.sealing import Sealer, SealError
from regmail.mail.smtp import SendFailure, SmtpPool, classify
from regmail.metrics import DEAD, MAILS, SMTP_SECONDS
from regmail.retry import RetryPolicy
from regmail.suppressions import is_hard_bounce, suppress
from regmail.tracing import context_from, tracer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Claim:
    mail: MailToRender
    attempts: int  # including the one about to be made
    budget_attempts: int  # attempts since the mail was created or last replayed
    budget_since: datetime


class Delivery:
    def __init__(
        self,
        writes: GroupCommit,
        renderer: Renderer,
        smtp: SmtpPool,
        policy: RetryPolicy,
        lease_seconds: float,
        sealer: Sealer,
        gate: ProviderGate | None = None,
    ) -> None:
        self._gate = gate or ProviderGate()
        self._writes = writes
        self._sealer = sealer
        self._renderer = renderer
        self._smtp = smtp
        self._policy = policy
        self._lease = timedelta(seconds=lease_seconds)

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
        paused_until = self._gate.closed_until()
        if paused_until is not None:  # no attempt is counted while the provider is away
            return RetryAt(paused_until, "delivery paused: the SMTP provider fails")
        claim = await self._claim(message.mail_id)
        if not isinstance(claim, _Claim):
            return claim
        mail = claim.mail
        try:
            mail = replace(mail, payload=self._sealer.open(mail.id, mail.payload))
        except SealError as error:  # a key missing from the settings: an operator's fix
            log.error("payload_sealed_with_unknown_key", mail_id=mail.id, error=str(error))
            return await self._dead(mail.id, claim.attempts, "secret-key", str(error))
        try:
            rendered = self._renderer.render(mail)
        except Exception as error:  # a template bug: retrying will not fix it
            log.exception("render_failed", mail_id=mail.id)
            return await self._dead(mail.id, claim.attempts, "render-error", repr(error))
        try:
            with (
                SMTP_SECONDS.time(),
                tracer.start_as_current_span("smtp send", kind=SpanKind.CLIENT),
            ):
                reply = await self._smtp.send(rendered.sender, rendered.recipient, rendered.data)
        except Exception as error:
            return await self._failed(claim, classify(error))
        await self._gate.succeeded()
        await self._finish(mail.id, claim.attempts, status="sent", last_reply=reply)
        MAILS.labels("sent").inc()
        log.info("mail_sent", mail_id=mail.id, kind=mail.kind, attempts=claim.attempts)
        return Ack()

    async def _claim(self, mail_id: str) -> _Claim | Outcome:
        """Mark the mail `sending` under a lease, or say why there is nothing to send."""
        return await self._writes.add(self._claim_batch, mail_id)

    async def _claim_batch(
        self, conn: AsyncConnection, mail_ids: Sequence[str]
    ) -> list[_Claim | Outcome]:
        """One UPDATE claims every due mail of the batch; the others are looked at one by one."""
        now = utcnow()
        params = {"b_ids": list(mail_ids), "b_now": now, "b_until": now + self._lease}
        claimed = {row.id: row for row in await conn.execute(_CLAIM_DUE, params)}
        outcomes: list[_Claim | Outcome] = []
        for mail_id in mail_ids:
            # One id twice in a batch (a relay's duplicate publish): one claim; the other
            # copy finds the mail in flight.
            row = claimed.pop(mail_id, None)
            claim = _claim_of(row, row.attempts) if row is not None else None
            outcomes.append(claim or await self._why_not(conn, mail_id))
        return outcomes

    async def _why_not(self, conn: AsyncConnection, mail_id: str) -> _Claim | Outcome:
        """A mail the batch could not claim: already done, not due, expired, or a race lost."""
        now = utcnow()
        row = (await conn.execute(_MAIL_BY_ID, {"b_id": mail_id})).first()
        if row is None:
            log.error("unknown_mail", mail_id=mail_id)
            DEAD.labels("unknown-mail").inc()
            return Dead("unknown-mail")
        if row.status in ("sent", "dead"):
            return Ack()  # a redelivery: the outcome is already recorded
        if row.status == "sending" and row.sending_until > now:
            return RetryAt(row.sending_until, "in flight in another worker")
        if row.status == "retrying" and row.next_attempt_at > now:
            return RetryAt(row.next_attempt_at, "not due yet")  # an early redelivery
        if row.expires_at is not None and row.expires_at <= now:
            await conn.execute(_OUTCOME, _outcome(mail_id, row.attempts, "dead", reason="expired"))
            MAILS.labels("dead").inc()
            DEAD.labels("expired").inc()
            return Dead("expired")
        taken = await conn.execute(
            _CLAIM,
            {
                "b_id": mail_id,
                "b_attempts": row.attempts,
                "b_next": row.attempts + 1,
                "b_until": now + self._lease,
                "b_now": now,
            },
        )
        if taken.rowcount != 1:
            return RetryAt(now + self._lease, "claimed by another worker")
        return _claim_of(row, row.attempts + 1)

    async def _failed(self, claim: _Claim, failure: SendFailure) -> Outcome:
        mail_id = claim.mail.id
        if failure.kind == "provider":
            until = await self._gate.trip(failure.reply)
            # Not this mail's fault: its attempt is given back, and it waits for the gate.
            params = _outcome(
                mail_id, claim.attempts, "retrying", last_reply=failure.reply, next_attempt_at=until
            )
            params["attempts"] = claim.attempts - 1
            await self._record(params)
            return RetryAt(until, failure.reply)
        if failure.permanent:
            log.warning("mail_rejected", mail_id=mail_id, reply=failure.reply)
            dead = await self._dead(mail_id, claim.attempts, "rejected", failure.reply)
            if is_hard_bounce(failure.reply):
                await self._suppress(claim.mail.recipient, failure.reply, mail_id)
            return dead
        now = utcnow()
        decision = self._policy.next_attempt(
            claim.budget_attempts, claim.budget_since, now, claim.mail.expires_at
        )
        if isinstance(decision, str):
            log.warning("mail_gave_up", mail_id=mail_id, reason=decision, reply=failure.reply)
            return await self._dead(mail_id, claim.attempts, decision, failure.reply)
        await self._finish(
            mail_id, claim.attempts, "retrying", last_reply=failure.reply, next_attempt_at=decision
        )
        MAILS.labels("retrying").inc()
        log.info("mail_retry", mail_id=mail_id, attempts=claim.attempts, reply=failure.reply)
        return RetryAt(decision, failure.reply)

    async def _suppress(self, address: str, reply: str, mail_id: str) -> None:
        """No more mail to an address that does not exist (until an operator says so)."""

        async def write(conn: AsyncConnection) -> None:
            await suppress(conn, address, reply, mail_id, utcnow())

        try:
            await self._writes.run(write)
        except IntegrityError:  # another worker's bounce for it got there first
            return
        log.warning("address_suppressed", mail_id=mail_id, reply=reply)

    async def _dead(self, mail_id: str, attempts: int, reason: str, reply: str) -> Dead:
        await self._finish(mail_id, attempts, "dead", reason=reason, last_reply=reply)
        MAILS.labels("dead").inc()
        DEAD.labels(reason).inc()
        return Dead(reason)

    async def _finish(
        self,
        mail_id: str,
        attempts: int,
        status: str,
        *,
        reason: str | None = None,
        last_reply: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        params = _outcome(mail_id, attempts, status, reason, last_reply, next_attempt_at)
        await self._record(params)

    async def _record(self, params: dict[str, object]) -> None:
        """Write an outcome, riding out a short database outage.

        Giving up too early after a 250 would let the lease expire and send the mail
        again; so keep trying for half the lease before leaving it to the lease.
        """
        deadline = time.monotonic() + self._lease.total_seconds() / 2
        delay = 0.1
        while True:
            try:
                await self._writes.add(_write_outcomes, params)
                return
            except DATABASE_ERRORS as error:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("record_retry", error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


# Built once, executed with parameters: building statements per mail cost a visible
# share of a worker's CPU time.
_MAIL_BY_ID = select(mails).where(mails.c.id == bindparam("b_id"))
_DUE: BindParameter[datetime] = bindparam("b_now")
_CLAIM_DUE = (
    update(mails)
    .where(
        mails.c.id.in_(bindparam("b_ids", expanding=True)),
        mails.c.status.not_in(("sent", "dead")),
        or_(mails.c.status != "sending", mails.c.sending_until <= _DUE),
        or_(mails.c.status != "retrying", mails.c.next_attempt_at <= _DUE),
        or_(mails.c.expires_at.is_(None), mails.c.expires_at > _DUE),
    )
    .values(
        status="sending",
        attempts=mails.c.attempts + 1,
        sending_until=bindparam("b_until"),
        updated_at=_DUE,
    )
    .returning(*mails.c)
)
_CLAIM = (
    update(mails)
    .where(mails.c.id == bindparam("b_id"), mails.c.attempts == bindparam("b_attempts"))
    .values(
        status="sending",
        attempts=bindparam("b_next"),
        sending_until=bindparam("b_until"),
        updated_at=bindparam("b_now"),
    )
)
# Guarded by `attempts`: a worker whose lease was taken over does not overwrite the
# outcome of the attempt that replaced it. The SET clause comes from the parameters.
_OUTCOME = update(mails).where(
    mails.c.id == bindparam("b_id"), mails.c.attempts == bindparam("b_attempts")
)


def _claim_of(row: Row[Any], attempts: int) -> _Claim:
    """The claim of a mail's row; `attempts` counts the attempt about to be made."""
    mail = MailToRender(row.id, row.kind, row.recipient, row.locale, row.payload, row.expires_at)
    budget_attempts = attempts - row.attempts_before_replay
    return _Claim(mail, attempts, budget_attempts, row.replayed_at or row.created_at)


async def _write_outcomes(
    conn: AsyncConnection, outcomes: Sequence[dict[str, object]]
) -> list[None]:
    """One executemany per set of columns written."""
    groups: dict[frozenset[str], list[dict[str, object]]] = {}
    for params in outcomes:
        groups.setdefault(frozenset(params), []).append(params)
    for group in groups.values():
        await conn.execute(_OUTCOME, group)
    return [None] * len(outcomes)


def _outcome(
    mail_id: str,
    attempts: int,
    status: str,
    reason: str | None = None,
    last_reply: str | None = None,
    next_attempt_at: datetime | None = None,
) -> dict[str, object]:
    now = utcnow()
    params: dict[str, object] = {
        "b_id": mail_id,
        "b_attempts": attempts,
        "status": status,
        "updated_at": now,
        "sending_until": None,
        "dead_reason": reason,
        "next_attempt_at": next_attempt_at,
    }
    if last_reply is not None:
        params["last_reply"] = last_reply[:1000]
    if status == "sent":
        params["sent_at"] = now
    if status in ("sent", "dead"):
        # The secret (the raw token) is done with either way; a replay issues a new one.
        params["payload"] = {}
    return params


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
