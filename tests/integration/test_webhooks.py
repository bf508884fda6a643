"""Webhooks: events of account changes, written with the change and delivered to a real HTTP
receiver through its outage and its refusals; signatures checked by `standardwebhooks`."""

from __future__ import annotations

import asyncio
import base64
import itertools
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
from prometheus_client import REGISTRY
from sqlalchemy import select

from regmail.db.tables import mails
from regmail.mail.sink import Mailbox
from regmail.webhooks import WebhookVerificationError, verify
from tests.support.accounts import active_account, mails_with, token_of
from tests.support.bouncing import bouncing_server
from tests.support.processes import regmail_cli, start_regmail
from tests.support.service import PASSWORD, Service, make_settings, running_service
from tests.support.waiting import eventually, free_port, wait_for_port
from tests.support.webhook_receiver import SECRET, Received, Reply, WebhookReceiver

ADMIN = {"authorization": "Bearer 7f3c9a1e5b2d4f6081a3c5e7092b4d6f"}
ACCOUNTS = 4
OUTAGE_SECONDS = 30.0
RETRY_AFTER_SECONDS = 2  # longer than any backoff of the test settings (0.5 s at most)


def _hooked(tmp_path: Path, receiver: WebhookReceiver, **overrides: Any) -> Any:
    return make_settings(
        tmp_path,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        smtp_pause_max_seconds=2,
        **overrides,
    )


async def _event_rows(svc: Service) -> list[Any]:
    async with svc.runtime.engine.connect() as conn:
        query = select(mails).where(mails.c.channel == "event").order_by(mails.c.created_at)
        return list(await conn.execute(query))


async def _all_finished(svc: Service, count: int) -> list[Any]:
    async def probe() -> list[Any]:
        rows = await _event_rows(svc)
        done = len(rows) >= count and all(r.status in ("sent", "dead") for r in rows)
        return rows if done else []

    return await eventually(probe, timeout=60)


async def test_a_receiver_down_then_refusing_gets_every_event_in_order(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    receiver = WebhookReceiver()  # not started: the endpoint is down
    async with running_service(_hooked(tmp_path, receiver, smtp_url=url)) as svc:
        down_at = time.monotonic()
        for n in range(ACCOUNTS):
            await active_account(svc, mailbox, f"user{n}@example.com")
        await eventually(_webhook_paused)
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        receiver.answer = _script(
            [Reply(500)] * 3
            + [Reply(429, {"retry-after": str(RETRY_AFTER_SECONDS)})] * 2
            + [Reply(200)]
        )
        await receiver.start()
        try:
            rows = await _all_finished(svc, 2 * ACCOUNTS)
        finally:
            await receiver.stop()
    assert {r.status for r in rows} == {"sent"}
    assert len(rows) == 2 * ACCOUNTS  # registered and activated, per account
    for r in receiver.received:  # an independent implementation agrees with the signature
        standardwebhooks.Webhook(SECRET).verify(r.body, r.headers)
    delivered = _first_deliveries(receiver.delivered)
    assert len(delivered) == len(rows), "every event delivered once at least"
    # Duplicates come only from a lost answer or a dead worker: neither happens here.
    assert len(receiver.delivered) == len(delivered), "an event acknowledged twice"
    by_account: dict[str, list[str]] = defaultdict(list)
    for event in delivered:
        by_account[event["data"]["account_id"]].append(event["type"])
    assert list(by_account.values()) == [["account.registered", "account.activated"]] * ACCOUNTS
    _copies_are_identical(receiver.received)
    _retry_after_was_honoured(receiver.received)


def _script(replies: list[Reply]) -> Any:
    """Answer with `replies` in turn, then the last one for ever."""
    left = list(replies)

    def answer(_: Received) -> Reply:
        return left.pop(0) if len(left) > 1 else left[0]

    return answer


async def _webhook_paused() -> bool:
    labels = {"destination": "webhook:default"}
    return REGISTRY.get_sample_value("regmail_destination_paused", labels) == 1


def _first_deliveries(received: list[Received]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    firsts = []
    for r in received:
        if r.headers["webhook-id"] not in seen:
            seen.add(r.headers["webhook-id"])
            firsts.append(r.event)
    return firsts


def _copies_are_identical(received: list[Received]) -> None:
    """Every request of one event carries its id and the same body; ids are the events'."""
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for r in received:
        assert r.headers["webhook-id"] == r.event["id"]
        bodies[r.headers["webhook-id"]].add(r.body)
    assert all(len(b) == 1 for b in bodies.values())


def _retry_after_was_honoured(received: list[Received]) -> None:
    by_id: dict[str, list[Received]] = defaultdict(list)
    for r in received:
        by_id[r.headers["webhook-id"]].append(r)
    waits = [
        later.at - r.at
        for copies in by_id.values()
        for r, later in itertools.pairwise(copies)
        if r.status == 429
    ]
    assert waits, "a 429 was answered and the event tried again"
    assert min(waits) >= RETRY_AFTER_SECONDS - 0.05, waits


async def test_a_refused_event_is_dead_with_the_status_and_replayable(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, _ = aiosmtpd_server
    receiver = WebhookReceiver()
    receiver.answer = _script([Reply(400), Reply(200)])
    await receiver.start()
    try:
        async with running_service(_hooked(tmp_path, receiver, smtp_url=url)) as svc:
            await svc.register("ada@example.com")
            [dead] = await _all_finished(svc, 1)
            assert (dead.status, dead.dead_reason) == ("dead", "rejected")
            assert dead.last_reply.startswith("HTTP 400")
            assert dead.attempts == 1  # a 4xx is not tried again unasked
            r = await svc.client.post(f"/v1/admin/messages/{dead.id}/retry", headers=ADMIN)
            assert r.status_code == 200, r.text
            [sent] = await _all_finished(svc, 1)
            assert sent.status == "sent"
    finally:
        await receiver.stop()
    first, second = receiver.received
    assert (first.status, second.status) == (400, 200)
    assert first.body == second.body and first.event["type"] == "account.registered"


async def test_every_change_has_its_event_and_a_rolled_back_one_none(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    receiver = WebhookReceiver()
    await receiver.start()
    settings = _hooked(tmp_path, receiver, smtp_url=url, database_url=database_url)
    try:
        async with running_service(settings) as svc:
            await _changes(svc, mailbox)
            rows = await _all_finished(svc, 9)
    finally:
        await receiver.stop()
    assert {r.status for r in rows} == {"sent"}
    events = _first_deliveries(receiver.delivered)
    by_account: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in events:  # in order per account (not across accounts)
        by_account[e["data"]["account_id"]].append((e["type"], e["data"]["email"]))
    assert sorted(by_account.values()) == [
        [
            ("account.registered", "ada@example.com"),
            ("account.activated", "ada@example.com"),
            ("account.password_changed", "ada@example.com"),
            ("account.email_changed", "new@example.com"),
            ("account.deleted", "new@example.com"),
        ],  # and no account.email_changed to taken@, whose transaction rolled back
        [
            ("account.registered", "pending@example.com"),
            ("account.activated", "pending@example.com"),  # a reset proves the inbox
            ("account.password_changed", "pending@example.com"),
        ],
        [("account.registered", "taken@x.org")],
    ]
    [changed] = [e["data"] for e in events if e["type"] == "account.email_changed"]
    assert changed["previous_email"] == "ada@example.com"
    [deleted] = [e["data"] for e in events if e["type"] == "account.deleted"]
    assert deleted["reason"] == "operator"
    assert len({e["id"] for e in events}) == len(events)


async def _changes(svc: Service, mailbox: Mailbox) -> None:
    """Activation, a failed address change, resets, an address change, a deletion."""
    await active_account(svc, mailbox, "ada@example.com")
    change = {"email": "ada@example.com", "password": PASSWORD}
    r = await svc.client.post("/v1/email-changes", json={**change, "new_email": "taken@x.org"})
    assert r.status_code == 202
    [confirm] = await mails_with(mailbox, "Confirm your new email address")
    await svc.register("taken@x.org")  # taken before the link is used: rolls back
    assert await _confirm(svc, confirm.links[0]) == 409
    for n, email in enumerate(["ada@example.com", "pending@example.com"], start=1):
        if n == 2:
            await svc.register(email)
        await svc.client.post("/v1/password-resets", json={"email": email})
        [*_, reset] = await mails_with(mailbox, "Reset your password", count=n)
        r = await svc.client.post(
            "/v1/password-resets/complete",
            json={"token": token_of(reset.links[0]), "password": "another good one"},
        )
        assert r.status_code == 200, r.text
    change["password"] = "another good one"
    r = await svc.client.post("/v1/email-changes", json={**change, "new_email": "new@example.com"})
    [*_, confirm] = await mails_with(mailbox, "Confirm your new email address", count=2)
    assert await _confirm(svc, confirm.links[0]) == 200
    admin = svc.client
    [account] = (await admin.get("/v1/admin/accounts?email=new@example.com", headers=ADMIN)).json()
    r = await admin.delete(f"/v1/admin/accounts/{account['id']}", headers=ADMIN)
    assert r.status_code == 204


async def _confirm(svc: Service, link: str) -> int:
    r = await svc.client.post("/v1/email-changes/complete", json={"token": token_of(link)})
    return r.status_code


async def test_a_dead_mail_is_an_event(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        async with (
            bouncing_server() as (url, _, _),
            running_service(_hooked(tmp_path, receiver, smtp_url=url)) as svc,
        ):
            await svc.register("ghost@example.com")
            rows = await _all_finished(svc, 2)
            [mail] = [r for r in await svc.mail_rows() if r.channel == "mail"]
    finally:
        await receiver.stop()
    assert {r.status for r in rows} == {"sent"}
    registered, dead = _first_deliveries(receiver.delivered)
    assert registered["type"] == "account.registered"
    assert dead["type"] == "mail.dead"
    assert dead["data"] == {
        "mail_id": mail.id,
        "kind": "activation",
        "recipient": "ghost@example.com",
        "reason": "rejected",
        "account_id": registered["data"]["account_id"],
    }


async def test_an_event_committed_by_a_killed_process_is_delivered(
    tmp_path: Path, database_url: str
) -> None:
    """The API process dies right after its commits: the events are in the outbox, and a
    worker started afterwards delivers them."""
    receiver = WebhookReceiver()
    port = free_port()
    settings = _hooked(tmp_path, receiver, database_url=database_url)
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    log = tmp_path / "regmail.log"
    api = start_regmail(settings, "serve", "--port", str(port), log=log, cwd=tmp_path)
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for n in range(5):
                r = await client.post(
                    "/v1/registrations", json={"email": f"u{n}@example.com", "password": PASSWORD}
                )
                assert r.status_code == 202
    finally:
        api.send_signal(signal.SIGKILL)
        api.wait()
    await receiver.start()
    worker = start_regmail(settings, "worker", log=log, cwd=tmp_path)
    try:
        await eventually(lambda: _count_delivered(receiver, 5), timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
        await receiver.stop()
    emails = sorted(e["data"]["email"] for e in _first_deliveries(receiver.delivered))
    assert emails == [f"u{n}@example.com" for n in range(5)]


async def _count_delivered(receiver: WebhookReceiver, count: int) -> bool:
    return len(_first_deliveries(receiver.delivered)) >= count


def test_receivers_verify_with_regmails_helper() -> None:
    body = b'{"id":"evt_1","type":"account.activated","timestamp":"","data":{}}'
    now = int(time.time())
    headers = standardwebhooks.Webhook(SECRET)  # signs as an independent implementation
    signature = headers.sign("evt_1", datetime.fromtimestamp(now, UTC), body.decode())
    given = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify(given, body, SECRET)["type"] == "account.activated"
    other = "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()
    with pytest.raises(WebhookVerificationError):
        verify(given, body, other)
    with pytest.raises(WebhookVerificationError):
        verify(given, body, SECRET, now=now + 301)  # stale: a replay
    with pytest.raises(WebhookVerificationError):
        verify(given, body + b" ", SECRET)  # the body changed
    stale = {**given, "webhook-timestamp": str(now - 600)}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(body, stale)
