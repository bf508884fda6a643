"""A webhook receiver for tests: a real HTTP server (uvicorn) on 127.0.0.1 that records
every request it gets and answers as the test says (`answer`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.waiting import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test secret (Standard Webhooks' example)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    at: float  # time.monotonic()

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def accept(_: Received) -> Reply:
    return Reply()


class WebhookReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/regmail"
        self.answer: Callable[[Received], Reply] = accept
        self.received: list[Received] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        return [r for r in self.received if 200 <= r.status < 300]

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hooks/regmail", self._hook, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raise why it could not start
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        probe = Received(dict(request.headers), body, 0, time.monotonic())
        reply = self.answer(probe)
        self.received.append(Received(probe.headers, body, reply.status, probe.at))
        return Response(status_code=reply.status, headers=reply.headers)
