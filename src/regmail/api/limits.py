"""Request body size limit (ASGI middleware) and per-client rate limits."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regmail.api.problems import Problem


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with 413 before the app parses them.

    The body is read here, at most `max_bytes` + 1 bytes of it, then handed to the app.
    Bodies this small cost nothing to buffer, and a refusal can happen before any of
    the app runs, whether the client declared a Content-Length or streamed chunks.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        await self.app(scope, _replay(message, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            413,
            "Request body too large",
            f"the body must be at most {self.max_bytes} bytes",
            extra={"errors": [{"field": "body", "message": "too large"}]},
        )
        await problem.response()(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay


class RateLimiter:
    """At most `limit` hits per `window` seconds per key, in this process's memory.

    A sliding log per key; keys whose hits have all aged out are dropped as they are seen.
    Several API processes each keep their own count (a per-process limit).
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str) -> None:
        """Count one hit, or raise a 429 problem with Retry-After."""
        now = self._clock()
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = max(1, math.ceil(hits[0] + self.window - now))
            raise Problem(
                429,
                "Too many requests",
                f"try again in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        hits.append(now)
        if len(self._hits) > 100_000:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
