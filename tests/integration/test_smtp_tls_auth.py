"""TLS and AUTH against a real server; `regmail serve` + `regmail worker` as processes."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.metrics import value
from tests.support.processes import start_regmail
from tests.support.service import TEST_DEFAULTS, make_settings, running_service
from tests.support.smtp_sink import SmtpSink
from tests.support.tls_smtp import (
    PASSWORD,
    credentials,
    plain_port_server,
    smtp_url,
    tls_auth_server,
)
from tests.support.waiting import eventually, free_port, wait_for_port


@pytest.mark.parametrize(("mode", "scheme"), [("starttls", "smtp"), ("tls", "smtps")])
async def test_delivers_over_tls_with_auth(tmp_path: Path, mode: str, scheme: str) -> None:
    async with tls_auth_server(tmp_path, mode) as (port, mailbox):  # type: ignore[arg-type]
        settings = make_settings(tmp_path, smtp_url=smtp_url(scheme, port))
        async with running_service(settings) as svc:
            await svc.register("tls@example.com")
            [row] = await svc.wait_for_rows(lambda r: r.status == "sent")
            assert [m.message_id for m in mailbox.all()] == [f"<{row.id}@regmail.localhost>"]


async def test_wrong_password_pauses_delivery_once_loudly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with tls_auth_server(tmp_path, "starttls") as (port, mailbox):
        url = smtp_url("smtp", port, password="wrong")
        settings = make_settings(tmp_path, smtp_url=url, smtp_pause_max_seconds=1)
        async with running_service(settings) as svc:
            for i in range(3):
                await svc.register(f"auth{i}@example.com")
            rows = await svc.wait_for_rows(lambda r: r.status == "retrying")
            # Not dead, and no retries spent: the password is wrong for every mail alike.
            assert {(r.attempts, r.last_reply[:3]) for r in rows} == {(0, "535")}
            # What an operator sees: readiness detail, a metric, one loud log line.
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ready = (await svc.client.get("/readyz", headers=admin)).json()
            assert ready["status"] == "ready" and ready["delivery"] == "paused"
            assert "535" in ready["detail"]["delivery"]
            page = (await svc.client.get("/metrics")).text
            assert value(page, "regmail_smtp_paused") == 1
            # Every mail, whatever its state by now: with a 1 s pause the worker may be
            # trying them again (sending) as the operator looks.
            listed = await svc.client.get(
                "/v1/admin/messages", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
            replies = [(m["status"], m["last_reply"][:3]) for m in listed.json()]
            assert len(replies) == 3 and {reply for _, reply in replies} == {"535"}, replies
            assert {status for status, _ in replies} <= {"retrying", "sending"}, replies
            assert mailbox.all() == []
    assert capsys.readouterr().out.count("smtp_provider_paused") == 1


ADMIN_TOKEN = TEST_DEFAULTS["admin_token"]
WRONG_ADMIN_TOKEN = "a-wrong-admin-token-guess"


async def test_serve_and_worker_processes_send_real_mail(tmp_path: Path) -> None:
    async with tls_auth_server(tmp_path, "tls") as (smtp_port, mailbox):
        http_port = free_port()
        settings = make_settings(
            tmp_path, smtp_url=smtp_url("smtps", smtp_port), port=http_port, log_level="debug"
        )
        log = tmp_path / "regmail.log"
        migrate = start_regmail(settings, "migrate", log=log, cwd=tmp_path)
        assert await asyncio.to_thread(migrate.wait, 60) == 0, log.read_text()
        serve = start_regmail(settings, "serve", log=log, cwd=tmp_path)
        worker = start_regmail(settings, "worker", log=log, cwd=tmp_path)
        try:
            await asyncio.to_thread(wait_for_port, http_port, 30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:
                response = await client.post(
                    "/v1/registrations",
                    json={"email": "real@example.com", "password": "correct horse"},
                )
                assert response.status_code == 202

                async def delivered() -> list:
                    return mailbox.all()

                [mail] = await eventually(delivered)
                assert mail.to == ["real@example.com"]
                token = mail.links[0].split("token=")[1].split("&")[0]
                activated = await client.post(
                    "/v1/activations", json={"token": token, "password": "correct horse"}
                )
                body = activated.json()
                assert uuid.UUID(body.pop("account_id"))  # the account, for the caller
                assert body == {"email": "real@example.com", "status": "active"}
                for bearer in (ADMIN_TOKEN, WRONG_ADMIN_TOKEN):
                    headers = {"Authorization": f"Bearer {bearer}"}
                    await client.get("/v1/admin/messages", headers=headers)
                await client.get(f"/activate?token={token}")  # the link, token in the query
        finally:
            for process in (serve, worker):
                process.send_signal(signal.SIGTERM)
            codes = [await asyncio.to_thread(p.wait, 30) for p in (serve, worker)]
        # uvicorn shuts down gracefully, then re-raises the signal it caught (as systemd
        # expects), so `serve` ends "by SIGTERM"; the worker exits 0 itself.
        assert codes == [-signal.SIGTERM, 0], log.read_text()
        # No secret reaches a log, even at debug level: the SMTP password, the admin token
        # (right or wrong), the user's password, the activation token.
        text = log.read_text()
        assert "mail_sent" in text  # the log is there and has the worker's lines
        for secret in (PASSWORD, ADMIN_TOKEN, WRONG_ADMIN_TOKEN, "correct horse", token):
            assert secret not in text


# The ports of relays and test servers, where smtp:// used to mean no TLS at all (only 587
# upgraded): both are free on the test machines (nothing of Postfix's runs but smtp-sink).
@pytest.mark.parametrize("port", [25, 2525])
async def test_starttls_is_used_whenever_offered_on_any_port(tmp_path: Path, port: int) -> None:
    async with plain_port_server(tmp_path, True, port) as (port, mailbox, over_tls):
        # A private CA (the self-signed certificate) instead of turning verification off.
        url = f"smtp://127.0.0.1:{port}?ca_file={tmp_path / 'cert.pem'}"
        async with running_service(make_settings(tmp_path, smtp_url=url)) as svc:
            await svc.register("tls@example.com")
            await svc.wait_for_rows(lambda r: r.status == "sent")
        assert len(mailbox.all()) == 1 and over_tls == [True]


async def test_the_password_is_never_sent_in_clear_text_unless_the_url_says_so(
    tmp_path: Path,
) -> None:
    async with plain_port_server(tmp_path, offer_starttls=False) as (port, mailbox, over_tls):
        url = f"smtp://{credentials()}@127.0.0.1:{port}"
        settings = make_settings(tmp_path, smtp_url=url, smtp_pause_max_seconds=1)
        async with running_service(settings) as svc:
            await svc.register("clear@example.com")
            [row] = await svc.wait_for_rows(lambda r: r.status == "retrying")
            assert row.attempts == 0 and "clear text" in row.last_reply
        assert mailbox.all() == []
        insecure = make_settings(tmp_path, smtp_url=f"{url}?insecure=true")
        async with running_service(insecure) as svc:
            await svc.wait_for_rows(lambda r: r.status == "sent")
        assert len(mailbox.all()) == 1 and over_tls == [False]


@pytest.mark.parametrize("port", [25, 2525])
async def test_a_server_without_starttls_still_gets_mail_without_a_password(
    tmp_path: Path, port: int
) -> None:
    sink = SmtpSink(tmp_path, port=port).start()  # Postfix's smtp-sink offers no STARTTLS
    try:
        async with running_service(make_settings(tmp_path, smtp_url=sink.url)) as svc:
            await svc.register("plain@example.com")
            await svc.wait_for_rows(lambda r: r.status == "sent")
        assert sink.received() == 1
    finally:
        sink.stop()
