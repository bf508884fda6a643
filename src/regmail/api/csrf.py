"""CSRF tokens on regmail's HTML forms: a double-submit cookie.

Every page with a form gets a random token in a cookie and the same token in a hidden
field; a form POST is taken only when the two match. Another site can make a browser post
to regmail, but it cannot read or set regmail's cookie, so it cannot know the token. Over
https the cookie is `__Host-` prefixed (Secure, whole host, no Domain), so not even a
sibling subdomain can plant one. SameSite=Strict keeps it off cross-site requests too.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

FIELD = "csrf_token"
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


class CsrfRefused(Exception):
    """A form POST without the token its page was given (or from another site)."""


def _secure(request: Request) -> bool:
    return str(request.app.state.runtime.settings.public_url).startswith("https://")


def _cookie(request: Request) -> str:
    return "__Host-regmail-csrf" if _secure(request) else "regmail-csrf"


def form_token(request: Request) -> str:
    """The token for the forms of this page: the browser's own, else a new one."""
    token = request.cookies.get(_cookie(request), "")
    return token if _WELL_FORMED.fullmatch(token) else secrets.token_urlsafe(32)


def remember(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        _cookie(request),
        token,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
        path="/",
    )


async def require_csrf(request: Request) -> None:
    """Dependency of every HTML form's POST."""
    form = await request.form()  # parsed once: the route's Form() fields read it again
    given = form.get(FIELD)
    expected = request.cookies.get(_cookie(request), "")
    if not isinstance(given, str) or not expected or not hmac.compare_digest(given, expected):
        raise CsrfRefused


# The route options of an HTML form's POST: an HTML answer, not in the API schema, CSRF-checked.
FORM_POST: dict[str, Any] = {
    "response_class": HTMLResponse,
    "include_in_schema": False,
    "dependencies": [Depends(require_csrf)],
}
