"""A mail is sent once even when its message is delivered twice or raced by two workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from regmail.accounts.addresses import parse_address
from regmail.brokers.base import Ack, Message, RetryAt
from regmail.db.tables import accounts, activation_tokens, mails, outbox
from regmail.mail.sink import Mailbox
from tests.support.service import make_settings, running_service


async def test_redelivered_message_is_acked_without_sending(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url), worker=False) as svc:
        await svc.register("once@example.com")
        [row] = await svc.mail_rows()
        delivery, pool = svc.runtime.delivery()
        message = Message(row.id, row.recipient)
        assert await delivery.handle(message) == Ack()
        assert await delivery.handle(message) == Ack()  # a redelivery
        await pool.close()
        assert len(mailbox.all()) == 1
        assert (await svc.mail_rows())[0].attempts == 1


async def test_two_workers_racing_for_one_mail_send_it_once(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    async with running_service(make_settings(tmp_path, smtp_url=url), worker=False) as svc:
        await svc.register("race@example.com")
        [row] = await svc.mail_rows()
        (first, pool1), (second, pool2) = svc.runtime.delivery(), svc.runtime.delivery()
        message = Message(row.id, row.recipient)
        outcomes = await asyncio.gather(first.handle(message), second.handle(message))
        await pool1.close()
        await pool2.close()
        assert Ack() in outcomes
        assert len(mailbox.all()) == 1
        other = outcomes[1] if outcomes[0] == Ack() else outcomes[0]
        assert other == Ack() or isinstance(other, RetryAt)


async def test_sign_up_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_outbox(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox insert failed")

    monkeypatch.setattr("regmail.outbox.enqueue.enqueue_outbox_rows", broken_outbox)
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        with pytest.raises(RuntimeError):
            await svc.runtime.accounts.register(
                parse_address("atomic@example.com"), "correct horse", "en"
            )
        async with svc.runtime.engine.connect() as conn:
            for table in (accounts, activation_tokens, mails, outbox):
                count = await conn.scalar(select(func.count()).select_from(table))
                assert count == 0, f"{table.name} kept a row of a failed sign-up"


async def test_one_mail_twice_in_a_claim_batch_is_claimed_once(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:
        await svc.register("twice@example.com")
        [row] = await svc.mail_rows()
        delivery, pool = svc.runtime.delivery()
        async with svc.runtime.engine.begin() as conn:
            first, second = await delivery._claim_batch(conn, [row.id, row.id])
        await pool.close()
    assert first.attempts == 1  # type: ignore[union-attr]
    assert isinstance(second, RetryAt), second  # in flight: the first copy sends it


async def test_a_mail_the_batch_update_missed_is_claimed_one_by_one(
    tmp_path: Path, database_url: str
) -> None:
    """The batch UPDATE can miss a mail that a concurrent transaction was changing; looked
    at again on its own, a due mail is claimed with its attempt counted."""
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:
        await svc.register("missed@example.com")
        [row] = await svc.mail_rows()
        delivery, pool = svc.runtime.delivery()
        async with svc.runtime.engine.begin() as conn:
            claim = await delivery._why_not(conn, row.id)
        await pool.close()
        [after] = await svc.mail_rows()
    assert claim.attempts == 1, claim  # type: ignore[union-attr]
    assert claim.mail.recipient == "missed@example.com"  # type: ignore[union-attr]
    assert (after.status, after.attempts) == ("sending", 1)
