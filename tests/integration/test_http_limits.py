"""`regmail serve`'s connection limits, against the real server (issue 19's reproductions:
an 8 MiB header was taken, idle sockets stayed open)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.support.processes import regmail_cli, start_regmail
from tests.support.service import make_settings
from tests.support.waiting import free_port, wait_for_port


@asynccontextmanager
async def serve(tmp_path: Path, **limits: Any) -> AsyncIterator[int]:
    port = free_port()
    settings = make_settings(tmp_path, port=port, **limits)
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    process = start_regmail(settings, "serve", log=tmp_path / "serve.log", cwd=tmp_path)
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)


def exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """What the server answers `request` with, until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # Closed while we were still sending: read what it said.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def closed_within(port: int, sent: bytes, timeout: float) -> float:
    """Seconds until the server closes a connection that sent only `sent`."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(sent)
        assert sock.recv(1024) == b""  # the server closed it; recv's own timeout raises
    return time.monotonic() - start


async def test_an_oversized_header_is_refused_431(tmp_path: Path) -> None:
    async with serve(tmp_path) as port:
        big = b"X-Big: " + b"a" * (8 * 1024 * 1024) + b"\r\n"
        head = b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
        answer = await asyncio.to_thread(exchange, port, head + big + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
        ok = await asyncio.to_thread(exchange, port, head + b"Connection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ")  # a normal request still is taken


async def test_idle_and_trickling_connections_are_closed(tmp_path: Path) -> None:
    async with serve(tmp_path, http_header_timeout_seconds=1) as port:
        assert await asyncio.to_thread(closed_within, port, b"", 10) < 5
        slow = await asyncio.to_thread(closed_within, port, b"GET /healthz HTTP/1.1\r\n", 10)
        assert slow < 5


async def test_past_the_connection_cap_new_requests_get_503(tmp_path: Path) -> None:
    async with serve(tmp_path, http_max_connections=3) as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            answer = await asyncio.to_thread(exchange, port, request)
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:100]
        finally:
            for sock in held:
                sock.close()


async def test_the_servers_own_lines_are_json_like_regmails(tmp_path: Path) -> None:
    async with serve(tmp_path, log_level="info") as port:
        answer = await asyncio.to_thread(exchange, port, b"NOT HTTP AT ALL\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ")
    lines = [line for line in (tmp_path / "serve.log").read_text().splitlines() if line]
    records = [json.loads(line) for line in lines]  # every line, whoever wrote it
    [invalid] = [r for r in records if "Invalid HTTP request" in r["event"]]
    assert (invalid["level"], invalid["logger"]) == ("warning", "uvicorn.error")
    assert "timestamp" in invalid
