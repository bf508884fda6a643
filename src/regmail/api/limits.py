"""Request body size limit (ASGI middleware); rate limits are regmail.limits."""

from __future__ import annotations

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
