"""A mail is sent once even when its message is delivered twice or raced by two workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from regmail.accounts.addresses import parse_address
from regmail.brokers.base import Ack, Message, RetryAt
from regmail.db.tables import account_tokens, accounts, mails, outbox
from regmail.mail.sink import Mailbox
from regmail.mails.attempts import Attempts, Claim, NotClaimed, Why
from regmail.runtime import Runtime
from tests.support.service import make_settings, running_service


async def test_redelivered_message_is_acked_without_sending(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url), worker=False) as svc:
        await svc.register("once@example.com")
        [row] = await svc.mail_rows()
        delivery = svc.runtime.delivery()
        message = Message(row.id, row.recipient)
        assert await delivery.handle(message) == Ack()
        assert await delivery.handle(message) == Ack()  # a redelivery
        assert len(mailbox.all()) == 1
        assert (await svc.mail_rows())[0].attempts == 1


async def test_two_workers_racing_for_one_mail_send_it_once(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url)
    async with running_service(settings, worker=False) as svc:
        await svc.register("race@example.com")
        [row] = await svc.mail_rows()
        other_worker = Runtime.build(settings)  # a process of its own, on the same database
        try:
            first, second = svc.runtime.delivery(), other_worker.delivery()
            message = Message(row.id, row.recipient)
            outcomes = await asyncio.gather(first.handle(message), second.handle(message))
        finally:
            await other_worker.close()
        assert Ack() in outcomes
        assert len(mailbox.all()) == 1
        other = outcomes[1] if outcomes[0] == Ack() else outcomes[0]
        assert other == Ack() or isinstance(other, RetryAt)


async def test_sign_up_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_outbox(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox insert failed")

    monkeypatch.setattr("regmail.mails.queue.insert_values", broken_outbox)
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        with pytest.raises(RuntimeError):
            await svc.runtime.accounts.signup.register(
                parse_address("atomic@example.com"), "correct horse", "en"
            )
        async with svc.runtime.engine.connect() as conn:
            for table in (accounts, account_tokens, mails, outbox):
                count = await conn.scalar(select(func.count()).select_from(table))
                assert count == 0, f"{table.name} kept a row of a failed sign-up"


async def test_one_mail_twice_in_a_claim_batch_is_claimed_once(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:
        await svc.register("twice@example.com")
        [row] = await svc.mail_rows()
        attempts = Attempts(svc.runtime.writes, settings.lease_seconds)
        async with svc.runtime.engine.begin() as conn:
            first, second = await attempts._claim_batch(conn, [row.id, row.id])
    assert isinstance(first, Claim) and first.attempts == 1, first
    assert isinstance(second, NotClaimed) and second.why == Why.IN_FLIGHT, second  # sent by first


async def test_a_mail_the_batch_update_missed_is_claimed_one_by_one(
    tmp_path: Path, database_url: str
) -> None:
    """The batch UPDATE can miss a mail that a concurrent transaction was changing; looked
    at again on its own, a due mail is claimed with its attempt counted."""
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:
        await svc.register("missed@example.com")
        [row] = await svc.mail_rows()
        attempts = Attempts(svc.runtime.writes, settings.lease_seconds)
        async with svc.runtime.engine.begin() as conn:
            claim = await attempts._claim_one(conn, row.id)
        [after] = await svc.mail_rows()
    assert isinstance(claim, Claim) and claim.attempts == 1, claim
    assert claim.recipient == "missed@example.com"
    assert (after.status, after.attempts) == ("sending", 1)
