"""Operators see dead letters and replay them: CLI (`regmail messages`) and admin API."""

from __future__ import annotations

import email
import email.policy
import json
import re
import uuid
from pathlib import Path

from tests.support.processes import regmail_cli
from tests.support.service import make_settings, running_service
from tests.support.smtp_sink import SmtpSink

ADMIN = {"Authorization": "Bearer 7f3c9a1e5b2d4f6081a3c5e7092b4d6f"}


async def test_cli_lists_shows_and_replays_a_dead_mail(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start("-f", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url)
    async with running_service(settings) as svc:
        await svc.register("ops@example.com")
        [dead] = await svc.wait_for_rows(lambda r: r.status == "dead")

        listed = await regmail_cli(settings, "messages", "list", "--status", "dead")
        assert listed.returncode == 0, listed.stderr
        assert dead.id in listed.stdout and "rejected" in listed.stdout
        assert (await regmail_cli(settings, "messages", "list", "--status", "sent")).stdout == ""

        shown = await regmail_cli(settings, "messages", "show", dead.id)
        view = json.loads(shown.stdout)
        assert (view["status"], view["dead_reason"], view["attempts"]) == ("dead", "rejected", 1)
        assert dead.payload == {}  # the token went with the dead mail's payload

        smtp_sink.restart()  # the provider is fixed; replay
        replayed = await regmail_cli(settings, "messages", "retry", dead.id)
        assert replayed.returncode == 0, replayed.stderr
        [sent] = await svc.wait_for_rows(lambda r: r.status == "sent")
        assert sent.attempts == 2
        assert sum(smtp_sink.message_ids().values()) == 1
        # The replay carried a fresh link, and it works.
        token = _token_in(smtp_sink.dump.read_text())
        assert token not in replayed.stdout  # operators never see the token
        activated = await svc.activate(token)
        body = activated.json()
        assert uuid.UUID(body.pop("account_id"))  # the account, for the caller
        assert body == {"email": "ops@example.com", "status": "active"}

        again = await regmail_cli(settings, "messages", "retry", dead.id)
        assert again.returncode == 1 and "sent" in again.stderr
        missing = await regmail_cli(settings, "messages", "show", "no-such-id")
        assert missing.returncode == 1
        bad = await regmail_cli(settings, "messages", "list", "--status", "lost")
        assert bad.returncode == 2


def _token_in(dump: str) -> str:
    """The activation token in the one message smtp-sink dumped."""
    message = email.message_from_string(dump, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [token] = re.findall(r"token=([A-Za-z0-9_-]{43})", text)
    return str(token)


async def test_admin_api_lists_and_replays(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start("-f", "RCPT")
    async with running_service(make_settings(tmp_path, smtp_url=smtp_sink.url)) as svc:
        await svc.register("admin@example.com")
        [dead] = await svc.wait_for_rows(lambda r: r.status == "dead")

        listed = await svc.client.get("/v1/admin/messages?status=dead", headers=ADMIN)
        assert [m["id"] for m in listed.json()] == [dead.id]
        assert "payload" not in listed.json()[0]
        filtered = await svc.client.get(
            "/v1/admin/messages",
            params={"reason": "rejected", "since": "2000-01-01T00:00:00Z"},
            headers=ADMIN,
        )
        assert [m["id"] for m in filtered.json()] == [dead.id]
        other = await svc.client.get("/v1/admin/messages?reason=max-attempts", headers=ADMIN)
        assert other.json() == []
        recent = await svc.client.get("/v1/admin/messages?since=1h", headers=ADMIN)
        assert [m["id"] for m in recent.json()] == [dead.id]
        bad = await svc.client.get("/v1/admin/messages?since=-1.5e-46", headers=ADMIN)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"
        one = await svc.client.get(f"/v1/admin/messages/{dead.id}", headers=ADMIN)
        assert one.json()["last_reply"].startswith("500")
        stats = await svc.client.get("/v1/admin/stats", headers=ADMIN)
        assert stats.json()["dead"] == 1

        smtp_sink.restart()
        replay = await svc.client.post(f"/v1/admin/messages/{dead.id}/retry", headers=ADMIN)
        assert replay.status_code == 200 and replay.json()["status"] == "queued"
        await svc.wait_for_rows(lambda r: r.status == "sent")
        conflict = await svc.client.post(f"/v1/admin/messages/{dead.id}/retry", headers=ADMIN)
        assert conflict.status_code == 409
        unknown = await svc.client.get("/v1/admin/messages/nope", headers=ADMIN)
        assert unknown.status_code == 404
        bad_status = await svc.client.get("/v1/admin/messages?status=lost", headers=ADMIN)
        assert bad_status.status_code == 422
        bad_reason = await svc.client.get("/v1/admin/messages?reason=lost", headers=ADMIN)
        assert bad_reason.status_code == 422 and bad_reason.json()["errors"][0]["field"] == "reason"


async def test_admin_api_refuses_a_missing_or_wrong_token(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": "7f3c9a1e5b2d4f6081a3c5e7092b4d6f"},  # the token without its scheme
            {"Authorization": "Bearer 7f3c9a1e5b2d4f6081a3c5e7092b4d6f-and-more"},
        ):
            refused = await svc.client.get("/v1/admin/stats", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.headers["content-type"] == "application/problem+json"
        assert (await svc.client.get("/v1/admin/stats", headers=ADMIN)).status_code == 200

    async with running_service(make_settings(tmp_path, admin_token=None), worker=False) as svc:
        disabled = await svc.client.get("/v1/admin/stats", headers=ADMIN)
        assert disabled.status_code == 404


async def test_cli_filters_replays_all_dead_and_purges_sent(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start("-f", "RCPT")
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url)
    async with running_service(settings) as svc:
        for name in ("a", "b", "c"):
            await svc.register(f"{name}@example.com")
        await svc.wait_for_rows(lambda r: r.status == "dead")

        async def listed(*options: str) -> list[str]:
            result = await regmail_cli(settings, "messages", "list", *options)
            assert result.returncode == 0, result.stderr
            return result.stdout.splitlines()

        assert len(await listed("--status", "dead", "--reason", "rejected", "--since", "1h")) == 3
        assert len(await listed("--recipient", "b@example.com")) == 1
        assert await listed("--reason", "max-attempts") == []
        assert await listed("--since", "2999-01-01T00:00") == []
        bad = await regmail_cli(settings, "messages", "list", "--since", "yesterday")
        assert bad.returncode == 2 and "--since" in bad.stderr

        smtp_sink.restart()  # the provider is fixed: replay the lot
        replayed = await regmail_cli(settings, "messages", "retry-dead", "--since", "1h")
        assert replayed.returncode == 0, replayed.stderr
        assert "3 replayed, 0 skipped" in replayed.stdout
        await svc.wait_for_rows(lambda r: r.status == "sent")
        assert len(smtp_sink.message_ids()) == 3

        kept = await regmail_cli(settings, "messages", "purge-sent", "--older-than", "1d")
        assert "0 sent mails purged" in kept.stdout
        purged = await regmail_cli(settings, "messages", "purge-sent", "--older-than", "0s")
        assert purged.returncode == 0, purged.stderr
        assert "3 sent mails purged" in purged.stdout
        assert await svc.mail_rows() == []
