"""POST /v1/credentials/verify: one answer for every failure (status, body, time),
throttling that a stranger cannot turn against the owner, the NIST bound of 100 failures,
and hashes moved to today's parameters."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from regmail.accounts import store
from regmail.accounts.addresses import parse_address
from regmail.accounts.passwords import PasswordHashing, check_new_password
from regmail.clock import utcnow
from regmail.db.tables import accounts, sign_in_failures
from regmail.mail.sink import Mailbox
from regmail.settings import Settings
from tests.support.accounts import token_of
from tests.support.service import PASSWORD, Service, make_settings, running_service
from tests.support.waiting import eventually

WRONG = "not the password"
NEW_PASSWORD = "tiger lily pond"


async def make_account(
    svc: Service, email: str, active: bool, settings: Settings | None = None
) -> str:
    """An account with PASSWORD, made directly (the flows that make one are tested apart)."""
    hashing = PasswordHashing(settings or svc.runtime.settings)
    try:
        password_hash = await hashing.hash(check_new_password(PASSWORD, 8))
    finally:
        hashing.close()
    now = utcnow()
    async with svc.runtime.engine.begin() as conn:
        account, write = store.new_account(parse_address(email), password_hash, "en", now)
        await write.run(conn)
        account_id = account.id
        if active:
            await store.set_password(conn, account_id, password_hash, now, activate=True)
    return account_id


async def verify(svc: Service, email: str, password: str) -> tuple[int, dict, list]:
    r = await svc.client.post(
        "/v1/credentials/verify",
        json={"email": email, "password": password},
        headers={"X-Request-ID": "probe"},
    )
    return r.status_code, r.json(), sorted(r.headers.items())


async def test_the_right_password_of_an_active_account(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:
        account_id = await make_account(svc, "ada@example.com", active=True)
        status, body, _ = await verify(svc, "Ada@Example.com", PASSWORD)
    assert status == 200
    assert body == {"account_id": account_id, "email": "ada@example.com", "status": "active"}


async def test_every_failure_answers_alike(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    async with running_service(settings, worker=False) as svc:
        await make_account(svc, "active@example.com", active=True)
        await make_account(svc, "pending@example.com", active=False)
        unknown = await verify(svc, "nobody@example.com", WRONG)
        wrong = await verify(svc, "active@example.com", WRONG)
        pending_wrong = await verify(svc, "pending@example.com", WRONG)
        pending_right = await verify(svc, "pending@example.com", PASSWORD)
    assert unknown == wrong == pending_wrong
    assert unknown[0] == 401 and unknown[1]["code"] == "invalid"
    assert pending_right[0] == 403 and pending_right[1]["code"] == "not_activated"


async def test_every_failure_takes_the_same_time(tmp_path: Path, database_url: str) -> None:
    # The production (OWASP) hash cost: an unknown address pays it against a dummy hash.
    settings = make_settings(
        tmp_path, database_url=database_url, argon2_memory_kib=19456, argon2_time_cost=2
    )
    rounds = 25
    async with running_service(settings, worker=False) as svc:
        for i in range(rounds):  # a fresh address each time: no throttling delay in the way
            await make_account(svc, f"active{i}@example.com", active=True)
            await make_account(svc, f"pending{i}@example.com", active=False)

        async def timed(email: str) -> float:
            start = time.perf_counter()
            status, _, _ = await verify(svc, email, WRONG)
            assert status == 401
            return time.perf_counter() - start

        times: dict[str, list[float]] = {"unknown": [], "active": [], "pending": []}
        for i in range(rounds):  # interleaved, so drift in machine load hits all alike
            for kind in times:
                address = (
                    f"nobody{i}@example.com" if kind == "unknown" else f"{kind}{i}@example.com"
                )
                times[kind].append(await timed(address))
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print({kind: f"{median * 1e3:.1f} ms" for kind, median in medians.items()})
    assert (max(medians.values()) - min(medians.values())) / max(medians.values()) < 0.10


async def test_failures_are_throttled_per_address_and_client_network(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        await make_account(svc, "ada@example.com", active=True)
        for _ in range(5):
            assert (await verify(svc, "ada@example.com", WRONG))[0] == 401
        throttled = await svc.client.post(
            "/v1/credentials/verify", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        # Unknown addresses are throttled the same way: the delay says nothing.
        for _ in range(5):
            await verify(svc, "nobody@example.com", WRONG)
        assert (await verify(svc, "nobody@example.com", WRONG))[0] == 429
        # The owner, elsewhere, is not slowed down by a stranger's failures.
        async with svc.client_at("203.0.113.7") as owner:
            right = await owner.post(
                "/v1/credentials/verify", json={"email": "ada@example.com", "password": PASSWORD}
            )
        assert right.status_code == 200
        # Once the delay is over, the right password works here too and clears the count.
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(
                update(sign_in_failures).values(blocked_until=utcnow() - timedelta(seconds=1))
            )
        assert (await verify(svc, "ada@example.com", PASSWORD))[0] == 200
        async with svc.runtime.engine.connect() as conn:
            left = list(await conn.execute(select(sign_in_failures.c.failures)))
        # nobody@'s five (the sixth was refused unchecked); ada@'s went with the success.
        assert [row.failures for row in left] == [5]


async def test_after_100_failures_in_a_row_only_a_reset_opens_the_account(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox], database_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, database_url=database_url)
    async with running_service(settings) as svc:
        await make_account(svc, "ada@example.com", active=True)
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(update(accounts).values(failed_sign_ins=99))
        # The 100th failure, from another network, as a botnet's would be.
        async with svc.client_at("198.51.100.1") as stranger:
            r = await stranger.post(
                "/v1/credentials/verify", json={"email": "ada@example.com", "password": WRONG}
            )
        assert r.status_code == 401
        locked = await verify(svc, "ada@example.com", PASSWORD)
        assert locked[0] == 423 and locked[1]["code"] == "locked"  # only the owner learns it
        assert (await verify(svc, "ada@example.com", WRONG))[0] == 401
        # The owner resets the password: the account opens again.
        await svc.client.post("/v1/password-resets", json={"email": "ada@example.com"})

        async def reset_link() -> list[str]:
            return [m.links[0] for m in mailbox.all() if m.subject == "Reset your password"]

        [link] = await eventually(reset_link)
        token = token_of(link)
        done = await svc.client.post(
            "/v1/password-resets/complete", json={"token": token, "password": NEW_PASSWORD}
        )
        assert done.status_code == 200, done.text
        assert (await verify(svc, "ada@example.com", NEW_PASSWORD))[0] == 200


async def test_a_hash_with_older_parameters_is_replaced_on_the_next_success(
    tmp_path: Path, database_url: str
) -> None:
    weaker = make_settings(tmp_path, database_url=database_url, argon2_time_cost=1)
    stronger = make_settings(tmp_path, database_url=database_url, argon2_time_cost=3)
    async with running_service(weaker, worker=False) as svc:
        await make_account(svc, "ada@example.com", active=True)
    async with running_service(stronger, worker=False) as svc:
        assert (await verify(svc, "ada@example.com", PASSWORD))[0] == 200
        async with svc.runtime.engine.connect() as conn:
            stored = await conn.scalar(select(accounts.c.password_hash))
        assert ",t=3," in stored
        assert (await verify(svc, "ada@example.com", PASSWORD))[0] == 200
