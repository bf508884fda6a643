"""A hard bounce ("user unknown") suppresses the address: sign-up still answers 202 but no
mail goes out, until an operator lifts it (admin API or CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from regmail.mail.sink import Mailbox, SinkHandler
from tests.support.processes import regmail_cli
from tests.support.service import TEST_DEFAULTS, make_settings, running_service
from tests.support.waiting import eventually, free_port

ADMIN = {"Authorization": f"Bearer {TEST_DEFAULTS['admin_token']}"}
UNKNOWN = "550 5.1.1 <ghost@example.com>: Recipient address rejected: User unknown"


class GhostRefusingHandler(SinkHandler):
    """Accepts mail, except for ghost@… while the ghost has no mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(mailbox)
        self.ghost_exists = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("ghost@") and not self.ghost_exists:
            return UNKNOWN
        envelope.rcpt_tos.append(address)
        return "250 OK"


@asynccontextmanager
async def bouncing_server() -> AsyncIterator[tuple[str, Mailbox, GhostRefusingHandler]]:
    mailbox = Mailbox()
    handler = GhostRefusingHandler(mailbox)
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox, handler
    finally:
        server.close()
        await server.wait_closed()


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
