"""A worker's attempts on a mail's row: claim it under a lease, record what happened.

The row is the source of truth whichever broker carried the message: a message for a mail
already `sent` or `dead` finds it finished; of two workers holding the same mail, the
claim's guard on `attempts` lets only one send; an outcome is written only by the attempt
that claimed it. Writes go through the worker's group commit (db/group_commit.py), so the
claims and outcomes of concurrent sends share transactions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import BindParameter, Row, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.clock import utcnow
from regmail.db.engine import DATABASE_ERRORS, readonly
from regmail.db.group_commit import GroupCommit
from regmail.db.tables import mails
from regmail.event_types import EventType
from regmail.mails.events import Events
from regmail.mails.kinds import Channel
from regmail.mails.status import FINISHED, DeadReason, MailStatus

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Claim:
    """A message claimed for one attempt (`attempts` counts it)."""

    id: str
    channel: Channel
    kind: str
    recipient: str
    locale: str
    payload: Mapping[str, Any]  # sealed
    expires_at: datetime | None
    attempts: int
    budget_attempts: int  # attempts since the mail was created or last replayed
    budget_since: datetime
    account_id: str | None
    created_at: datetime


class Why(StrEnum):
    """Why a mail was not claimed."""

    FINISHED = "already sent or dead"
    IN_FLIGHT = "in flight in another worker"
    NOT_DUE = "not due yet"  # an early redelivery
    TAKEN = "claimed by another worker"
    EXPIRED = "expired"  # now recorded dead
    MISSING = "no such mail"


@dataclass(frozen=True)
class NotClaimed:
    why: Why
    until: datetime | None = None  # when to look again (IN_FLIGHT, NOT_DUE, TAKEN)


class Attempts:
    def __init__(
        self, writes: GroupCommit, lease_seconds: float, events: Events | None = None
    ) -> None:
        self._writes = writes
        self._reads = readonly(writes.engine)
        self._lease = timedelta(seconds=lease_seconds)
        self._events = events  # a mail that goes dead is reported (mail.dead)

    async def claim(self, mail_id: str) -> Claim | NotClaimed:
        """Mark the mail `sending` under a lease, or say why there is nothing to send."""
        return await self._writes.add(self._claim_batch, mail_id)

    async def _claim_batch(
        self, conn: AsyncConnection, mail_ids: Sequence[str]
    ) -> list[Claim | NotClaimed]:
        """One UPDATE claims every due mail of the batch; the others are looked at one by one."""
        now = utcnow()
        params = {"b_ids": list(mail_ids), "b_now": now, "b_until": now + self._lease}
        claimed = {row.id: row for row in await conn.execute(_CLAIM_DUE, params)}
        results: list[Claim | NotClaimed] = []
        for mail_id in mail_ids:
            # One id twice in a batch (a relay's duplicate publish): one claim; the other
            # copy finds the mail in flight.
            row = claimed.pop(mail_id, None)
            claim = _claim_of(row, row.attempts) if row is not None else None
            results.append(claim or await self._claim_one(conn, mail_id))
        return results

    async def _claim_one(self, conn: AsyncConnection, mail_id: str) -> Claim | NotClaimed:
        """A mail the batch did not claim: already done, not due, expired, or a race lost."""
        now = utcnow()
        row = (await conn.execute(_MAIL_BY_ID, {"b_id": mail_id})).first()
        if row is None:
            return NotClaimed(Why.MISSING)
        if row.status in FINISHED:
            return NotClaimed(Why.FINISHED)  # a redelivery: the outcome is recorded
        if row.status == MailStatus.SENDING and row.sending_until > now:
            return NotClaimed(Why.IN_FLIGHT, row.sending_until)
        if row.status == MailStatus.RETRYING and row.next_attempt_at > now:
            return NotClaimed(Why.NOT_DUE, row.next_attempt_at)
        if row.expires_at is not None and row.expires_at <= now:
            dead = _outcome(mail_id, row.attempts, MailStatus.DEAD, DeadReason.EXPIRED)
            await conn.execute(_OUTCOME, dead)
            await self._report_dead(conn, row, DeadReason.EXPIRED, now)
            return NotClaimed(Why.EXPIRED)
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
            return NotClaimed(Why.TAKEN, now + self._lease)
        return _claim_of(row, row.attempts + 1)

    async def record(
        self,
        claim: Claim,
        status: MailStatus,
        *,
        reason: DeadReason | None = None,
        last_reply: str | None = None,
        next_attempt_at: datetime | None = None,
        give_back: bool = False,
        scrub: bool = True,
    ) -> None:
        """Write the outcome of `claim`'s attempt (`give_back`: the attempt is not counted;
        `scrub`: a finished mail's payload is emptied, for it holds a secret).

        Riding out a short database outage: giving up too early after a 250 would let the
        lease expire and send the mail again, so keep trying for half the lease before
        leaving it to the lease.
        """
        params = _outcome(claim.id, claim.attempts, status, reason, last_reply, next_attempt_at)
        if not scrub:
            params.pop("payload", None)
        if give_back:
            params["attempts"] = claim.attempts - 1
        reported = status == MailStatus.DEAD and self._reports(claim.channel)
        deadline = time.monotonic() + self._lease.total_seconds() / 2
        delay = 0.1
        while True:
            try:
                if reported:  # the outcome and its event in one transaction
                    assert reason is not None
                    await self._writes.run(self._dead_and_reported(claim, params, reason))
                else:
                    await self._writes.add(_write_outcomes, params)
                return
            except DATABASE_ERRORS as error:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("record_retry", mail_id=claim.id, error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _dead_and_reported(
        self, claim: Claim, params: dict[str, object], reason: DeadReason
    ) -> Callable[[AsyncConnection], Awaitable[None]]:
        async def write(conn: AsyncConnection) -> None:
            done = await conn.execute(_OUTCOME, params)
            if done.rowcount == 1:  # this attempt's outcome (not one taken over)
                await self._report_dead(conn, claim, reason, utcnow())

        return write

    async def give_up(self, mail_id: str, reason: DeadReason) -> bool:
        """Make an unfinished mail `dead` whatever attempt holds it; whether it was unfinished."""

        async def write(conn: AsyncConnection) -> bool:
            params = _outcome(mail_id, 0, MailStatus.DEAD, reason)
            del params["b_attempts"]
            done = await conn.execute(_GIVE_UP, params)
            if not done.rowcount:
                return False
            row = (await conn.execute(_MAIL_BY_ID, {"b_id": mail_id})).one()
            await self._report_dead(conn, row, reason, utcnow())
            return True

        return await self._writes.run(write)

    async def earlier_unfinished(self, claim: Claim) -> datetime | None:
        """An event waits while an earlier one of its account to the same destination is
        unfinished: when to look again (None: it may go now)."""
        if claim.channel != Channel.EVENT or claim.account_id is None:
            return None
        params = {
            "b_account": claim.account_id,
            "b_recipient": claim.recipient,
            "b_created": claim.created_at,
        }
        async with self._reads.connect() as conn:
            row = (await conn.execute(_EARLIER, params)).first()
        if row is None:
            return None
        # One in flight is soon done: look again in a moment. One waiting for a retry
        # cannot be done before that retry.
        soonest = utcnow() + EARLIER_RECHECK
        if row.status != MailStatus.RETRYING or row.next_attempt_at is None:
            return soonest
        due: datetime = row.next_attempt_at
        return max(due, soonest)

    def _reports(self, channel: str) -> bool:
        return self._events is not None and channel == Channel.MAIL

    async def _report_dead(
        self, conn: AsyncConnection, mail: Claim | Row[Any], reason: DeadReason, now: datetime
    ) -> None:
        """mail.dead, for a mail (never for an event: a dead event reports nothing)."""
        if self._events is None or not self._reports(mail.channel):
            return
        data = {
            "mail_id": mail.id,
            "kind": mail.kind,
            "recipient": mail.recipient,
            "reason": reason,
            "account_id": mail.account_id,
        }
        await self._events.emit(conn, EventType.MAIL_DEAD, mail.account_id, data, now)


# Built once, executed with parameters: building statements per mail cost a visible
# share of a worker's CPU time.
_MAIL_BY_ID = select(mails).where(mails.c.id == bindparam("b_id"))
_DUE: BindParameter[datetime] = bindparam("b_now")
_CLAIM_DUE = (
    update(mails)
    .where(
        mails.c.id.in_(bindparam("b_ids", expanding=True)),
        mails.c.status.not_in(FINISHED),
        or_(mails.c.status != MailStatus.SENDING, mails.c.sending_until <= _DUE),
        or_(mails.c.status != MailStatus.RETRYING, mails.c.next_attempt_at <= _DUE),
        or_(mails.c.expires_at.is_(None), mails.c.expires_at > _DUE),
    )
    .values(
        status=MailStatus.SENDING,
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
        status=MailStatus.SENDING,
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
_GIVE_UP = update(mails).where(mails.c.id == bindparam("b_id"), mails.c.status.not_in(FINISHED))
_EARLIER = (
    select(mails.c.status, mails.c.next_attempt_at)
    .where(
        mails.c.account_id == bindparam("b_account"),
        mails.c.recipient == bindparam("b_recipient"),
        mails.c.created_at < bindparam("b_created"),
        mails.c.status.not_in(FINISHED),
    )
    .order_by(mails.c.created_at)
    .limit(1)
)
EARLIER_RECHECK = timedelta(seconds=0.25)


def _claim_of(row: Row[Any], attempts: int) -> Claim:
    """The claim of a mail's row; `attempts` counts the attempt about to be made."""
    return Claim(
        row.id,
        Channel(row.channel),
        row.kind,
        row.recipient,
        row.locale,
        row.payload,
        row.expires_at,
        attempts,
        budget_attempts=attempts - row.attempts_before_replay,
        budget_since=row.replayed_at or row.created_at,
        account_id=row.account_id,
        created_at=row.created_at,
    )


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
    status: MailStatus,
    reason: DeadReason | None = None,
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
    if status == MailStatus.SENT:
        params["sent_at"] = now
    if status in FINISHED:
        # A secret (a link's token) is done with either way; a replay issues a new one.
        params["payload"] = {}
    return params
