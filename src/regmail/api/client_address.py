"""The client's address, read through the proxies regmail is told to trust (ASGI).

It replaces the ASGI scope's `client` before anything reads it, so the rate limits, the
sign-in throttle and the logs all see the person, not the load balancer in front.
uvicorn's own proxy handling is off (roles.serve): this one also reads `Forwarded`
(RFC 7239) and takes CIDRs from REGMAIL_TRUSTED_PROXIES.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from regmail.networks import TrustedProxies


class ClientAddress:
    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            peer, port = scope["client"]
            headers = dict(scope["headers"])
            forwarded = headers.get(b"forwarded")
            forwarded_for = headers.get(b"x-forwarded-for")
            if (forwarded or forwarded_for) and self.trusted.trusts(peer):
                client = self.trusted.client(
                    peer,
                    forwarded.decode("latin-1") if forwarded else None,
                    forwarded_for.decode("latin-1") if forwarded_for else None,
                )
                scope = {**scope, "client": (client, port if client == peer else 0)}
        await self.app(scope, receive, send)
