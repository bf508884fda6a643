"""Requests that name an address answer in the same time whoever the address belongs to:
resend and password reset, for unknown, pending and active addresses (the work for a known
one is done after the answer: accounts/requests.py)."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import pytest

from regmail.accounts import store
from regmail.accounts.addresses import parse_address
from regmail.clock import utcnow
from tests.support.service import Service, make_settings, running_service

ROUNDS = 200  # ~4 ms answers: 10 % is 0.4 ms, so many rounds keep the noise under it


async def make_accounts(svc: Service) -> None:
    async with svc.runtime.engine.begin() as conn:
        for status in ("pending", "active"):
            for i in range(ROUNDS):
                address = parse_address(f"{status}{i}@example.com")
                account, write = store.new_account(address, "not a hash", "en", utcnow())
                await write.run(conn)
                account_id = account.id
                if status == "active":
                    await store.set_password(conn, account_id, "not a hash", utcnow(), True)


@pytest.mark.parametrize("path", ["/v1/activations/resend", "/v1/password-resets"])
async def test_known_and_unknown_addresses_take_the_same_time(
    tmp_path: Path, database_url: str, path: str
) -> None:
    # The handling's random wait, short here: the test waits for it between answers.
    settings = make_settings(
        tmp_path, database_url=database_url, address_request_jitter_seconds=0.005
    )
    async with running_service(settings, worker=False) as svc:
        await make_accounts(svc)

        async def timed(email: str) -> float:
            """The answer's own time: the work behind the previous one is done by then."""
            await svc.requests_handled()
            start = time.perf_counter()
            r = await svc.client.post(path, json={"email": email})
            elapsed = time.perf_counter() - start
            assert r.status_code == 202
            return elapsed

        times: dict[str, list[float]] = {"unknown": [], "pending": [], "active": []}
        order = random.Random(16)
        for i in range(ROUNDS):  # interleaved, in a shuffled order: drift hits all alike
            for kind in order.sample(list(times), len(times)):
                times[kind].append(await timed(f"{kind}{i}@example.com"))
        await svc.requests_handled()
        queued = {row.recipient.split("@")[0].rstrip("0123456789") for row in await svc.mail_rows()}
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print(path, {kind: f"{median * 1e3:.2f} ms" for kind, median in medians.items()})
    assert (max(medians.values()) - min(medians.values())) / max(medians.values()) < 0.10
    # Behind the answers, the known addresses got their mail: the work was done, later.
    expected = {"pending"} if path.endswith("resend") else {"pending", "active"}
    assert queued == expected
