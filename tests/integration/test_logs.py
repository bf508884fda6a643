"""One mail's life found by its id in the JSON logs of the API, the relay and the worker,
with the sign-up's request id beside it; and no secret in any of them."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from regmail.db.engine import create_engine
from regmail.db.tables import mails
from tests.support.mailstate import none_unsent
from tests.support.processes import regmail_cli, start_regmail
from tests.support.service import make_settings
from tests.support.waiting import eventually, free_port, wait_for_port

PASSWORD = "a-password-never-logged"


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


async def test_a_mail_id_is_in_the_api_relay_and_worker_logs(
    tmp_path: Path, aiosmtpd_server: tuple[str, Any], rabbit: dict[str, Any], postgres_url: str
) -> None:
    url, mailbox = aiosmtpd_server
    port = free_port()
    settings = make_settings(
        tmp_path,
        smtp_url=url,
        database_url=postgres_url,
        port=port,
        relay_in_serve=False,  # a relay process of its own, with a log of its own
        log_level="debug",
        **rabbit,
    )
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    logs = {name: tmp_path / f"{name}.log" for name in ("serve", "relay", "worker")}
    processes = [start_regmail(settings, name, log=log, cwd=tmp_path) for name, log in logs.items()]
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answer = await client.post(
                "/v1/registrations",
                json={"email": "traced@example.com", "password": PASSWORD},
                headers={"X-Request-ID": "req-7f3a"},
            )
        assert answer.status_code == 202
        assert answer.headers["x-request-id"] == "req-7f3a"
        await eventually(lambda: none_unsent(settings), timeout=30)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.to_thread(process.wait, 30)
    engine = create_engine(settings)
    async with engine.connect() as conn:
        mail_id = (await conn.execute(select(mails.c.id))).scalar_one()
    await engine.dispose()

    def lines_about(name: str) -> list[dict[str, Any]]:
        return [e for e in events(logs[name]) if e.get("mail_id") == mail_id]

    assert [(e["event"], e["request_id"]) for e in lines_about("serve")] == [
        ("mail_queued", "req-7f3a")
    ]
    assert [e["event"] for e in lines_about("relay")] == ["mail_published"]
    assert "mail_sent" in [e["event"] for e in lines_about("worker")]
    token = mailbox.all()[0].links[0].split("token=")[1].split("&")[0]
    for log in logs.values():
        text = log.read_text()
        assert PASSWORD not in text and token not in text
