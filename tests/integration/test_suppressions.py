"""A hard bounce ("user unknown") suppresses the address: sign-up still answers 202 but no
mail goes out, until an operator lifts it (admin API or CLI)."""

from __future__ import annotations

from pathlib import Path

from tests.support.bouncing import UNKNOWN, bouncing_server
from tests.support.processes import regmail_cli
from tests.support.service import TEST_DEFAULTS, make_settings, running_service
from tests.support.waiting import eventually

ADMIN = {"Authorization": f"Bearer {TEST_DEFAULTS['admin_token']}"}


async def test_a_hard_bounce_suppresses_until_lifted(tmp_path: Path) -> None:
    async with bouncing_server() as (url, mailbox, handler):
        settings = make_settings(tmp_path, smtp_url=url)
        async with running_service(settings) as svc:
            await svc.register("ghost@example.com")
            [dead] = await svc.wait_for_rows(lambda r: r.status == "dead")
            assert (dead.dead_reason, dead.last_reply[:9]) == ("rejected", "550 5.1.1")

            async def listed() -> list[dict[str, str]]:
                r = await svc.client.get("/v1/admin/suppressions", headers=ADMIN)
                return list(r.json())

            [entry] = await eventually(listed)
            assert (entry["address"], entry["mail_id"]) == ("ghost@example.com", dead.id)
            assert entry["reason"] == UNKNOWN

            # Signing up again answers as ever, and sends nothing.
            await svc.register("ghost@example.com")
            await svc.client.post("/v1/activations/resend", json={"email": "ghost@example.com"})
            await svc.requests_handled()
            assert len(await svc.mail_rows()) == 1

            cli = await regmail_cli(settings, "suppressions", "list")
            assert "ghost@example.com" in cli.stdout and "5.1.1" in cli.stdout
            handler.ghost_exists = True  # the person created the mailbox
            lifted = await regmail_cli(settings, "suppressions", "lift", "ghost@example.com")
            assert lifted.returncode == 0, lifted.stderr
            again = await regmail_cli(settings, "suppressions", "lift", "ghost@example.com")
            assert again.returncode == 1

            await svc.client.post("/v1/activations/resend", json={"email": "ghost@example.com"})
            await svc.requests_handled()
            rows = await svc.wait_for_rows(lambda r: r.status in ("sent", "dead"))
            assert sorted(r.status for r in rows) == ["dead", "sent"]
            assert [m.to for m in mailbox.all()] == [["ghost@example.com"]]


async def test_lifting_through_the_admin_api(tmp_path: Path) -> None:
    async with (
        bouncing_server() as (url, _, _),
        running_service(make_settings(tmp_path, smtp_url=url)) as svc,
    ):
        await svc.register("ghost@example.com")
        await svc.wait_for_rows(lambda r: r.status == "dead")

        async def suppressed() -> bool:
            r = await svc.client.get("/v1/admin/suppressions", headers=ADMIN)
            return bool(r.json())

        await eventually(suppressed)
        path = "/v1/admin/suppressions/ghost@example.com"
        assert (await svc.client.delete(path, headers=ADMIN)).status_code == 204
        assert (await svc.client.delete(path, headers=ADMIN)).status_code == 404
