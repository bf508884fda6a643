"""Request latency by route template, and sign-ups by outcome, for every request."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regmail.metrics import REQUEST_SECONDS, SIGNUPS

SIGN_UP_ROUTES = {("POST", "/v1/registrations"), ("POST", "/signup")}


def signup_outcome(status: int) -> str:
    if status < 300:
        return "accepted"
    if status == 429:
        return "limited"
    return "unavailable" if status >= 500 else "invalid"


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The route's template, not the raw path: unknown paths share one label.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            REQUEST_SECONDS.labels(method, route, str(status)).observe(
                time.perf_counter() - started
            )
            if (method, scope["path"]) in SIGN_UP_ROUTES:
                SIGNUPS.labels(signup_outcome(status)).inc()
