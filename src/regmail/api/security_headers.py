"""Security headers (ASGI): on every response, no MIME sniffing; on HTML pages, a strict
Content-Security-Policy, no framing and no Referer (the pages behind mailed links carry
their token in the URL, which a Referer would hand to any page they link to)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# regmail's pages: no script at all, their one inline <style>, forms posting to themselves
# (and redirected on to the application: browsers hold a form's redirects to form-action).
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'{app}; frame-ancestors 'none'; base-uri 'none'"
)
# Swagger UI (/docs): its scripts and styles served by regmail itself, one inline script.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ALWAYS = [(b"x-content-type-options", b"nosniff")]
ON_HTML = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, app_url: str | None = None) -> None:
        self.app = app
        origin = "" if app_url is None else " " + _origin(app_url)
        self.page_policy = PAGE_POLICY.format(app=origin).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith("/docs")
        policy = DOCS_POLICY.encode() if docs else self.page_policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + ALWAYS
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    headers += [*ON_HTML, (b"content-security-policy", policy)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
