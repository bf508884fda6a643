"""REGMAIL_ADMIN_BIND: the admin API and /metrics on a listener of their own, in the same
`regmail serve` process; the public port has neither."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx

from tests.support.processes import serving
from tests.support.service import TEST_DEFAULTS, make_settings
from tests.support.waiting import free_port, wait_for_port

ADMIN = {"Authorization": f"Bearer {TEST_DEFAULTS['admin_token']}"}


async def test_admin_api_and_metrics_answer_only_on_the_admin_listener(tmp_path: Path) -> None:
    port, admin_port = free_port(), free_port()
    settings = make_settings(tmp_path, port=port, admin_bind=f"127.0.0.1:{admin_port}")
    async with serving(settings, tmp_path) as public_url:
        await asyncio.to_thread(wait_for_port, admin_port, 30)
        async with httpx.AsyncClient() as client:
            for path in ("/v1/admin/messages", "/v1/admin/stats", "/metrics"):
                public = await client.get(public_url + path, headers=ADMIN)
                assert public.status_code == 404, path
            admin_url = f"http://127.0.0.1:{admin_port}"
            assert (
                await client.get(admin_url + "/v1/admin/stats", headers=ADMIN)
            ).status_code == 200
            assert (await client.get(admin_url + "/v1/admin/stats")).status_code == 401
            assert "regmail_signups_total" in (await client.get(admin_url + "/metrics")).text
            ready = (await client.get(admin_url + "/readyz", headers=ADMIN)).json()
            assert ready["status"] == "ready" and "detail" in ready
            # The public side still takes sign-ups.
            signup = {"email": "a@example.com", "password": "correct horse"}
            assert (
                await client.post(public_url + "/v1/registrations", json=signup)
            ).status_code == 202
    # serving() asserted a clean stop of the process; the admin port is closed with it.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", admin_port)) != 0
