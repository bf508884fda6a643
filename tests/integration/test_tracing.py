"""One trace per mail across processes: the sign-up request, the relay's publish (through
RabbitMQ's message headers), the worker's delivery and its SMTP send."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import path_of, token_of
from tests.support.mailstate import none_unsent
from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.processes import regmail_cli, start_regmail
from tests.support.service import make_settings
from tests.support.waiting import eventually, free_port, wait_for_port


async def test_a_mail_is_one_trace_from_request_to_smtp(
    tmp_path: Path,
    aiosmtpd_server: tuple[str, Any],
    rabbit: dict[str, Any],
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export soon, for the test
    collector, port = free_port(), free_port()
    settings = make_settings(
        tmp_path,
        smtp_url=aiosmtpd_server[0],
        database_url=postgres_url,
        port=port,
        otlp_endpoint=f"http://127.0.0.1:{collector}",
        **rabbit,
    )
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    log = tmp_path / "regmail.log"
    with otlp_receiver(collector) as receiver:
        processes = [start_regmail(settings, n, log=log, cwd=tmp_path) for n in ("serve", "worker")]
        try:
            await asyncio.to_thread(wait_for_port, port, 30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                r = await client.post(
                    "/v1/registrations",
                    json={"email": "traced@example.com", "password": "correct horse"},
                )
                assert r.status_code == 202
            await eventually(lambda: none_unsent(settings), timeout=30)

            async def chain() -> list[ReceivedSpan]:
                names = {s.name: s for s in receiver.spans}
                wanted = ["POST /v1/registrations", "relay publish", "deliver", "smtp send"]
                return [names[n] for n in wanted] if set(wanted) <= set(names) else []

            request, publish, deliver, send = await eventually(chain, timeout=30)
            # The mailed link, opened: its token must not reach the collector.
            [mail] = aiosmtpd_server[1].all()
            token = token_of(mail.links[0])
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get(path_of(mail.links[0]))).status_code == 200

            async def link_traced() -> bool:
                return any(s.name == "GET /activate" for s in receiver.spans)

            await eventually(link_traced, timeout=30)
            assert not [body for body in receiver.bodies if token.encode() in body]
            assert [body for body in receiver.bodies if b"token=REDACTED" in body]
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                await asyncio.to_thread(process.wait, 30)
    assert len({s.trace_id for s in (request, publish, deliver, send)}) == 1
    # FastAPI's own spans sit inside the request's; the publish hangs under one of them.
    api_spans = {s.span_id for s in receiver.spans if s.trace_id == request.trace_id}
    assert request.parent_id == "" and publish.parent_id in api_spans - {publish.span_id}
    assert deliver.parent_id == publish.span_id  # across RabbitMQ, in the message headers
    assert send.parent_id == deliver.span_id
    assert (request.service, deliver.service) == ("regmail-api", "regmail-worker")
