"""Who is the operator: the Bearer REGMAIL_ADMIN_TOKEN (the admin API, /readyz's detail)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from regmail.api.deps import get_runtime
from regmail.api.problems import Problem
from regmail.runtime import Runtime

bearer = HTTPBearer(
    scheme_name="adminToken",
    description="REGMAIL_ADMIN_TOKEN, as `Authorization: Bearer <token>`",
    auto_error=False,  # regmail answers with its own problem+json
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def is_admin(runtime: Runtime, token: str | None) -> bool:
    expected = runtime.settings.admin_token  # never empty: settings.py makes that None
    if expected is None or token is None:
        return False
    return hmac.compare_digest(token.encode(), expected.get_secret_value().encode())


def bearer_token(request: Request) -> str | None:
    """The Bearer token of a route that takes one without documenting it (/readyz)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def require_admin(  # async: see api/deps.py
    runtime: Annotated[Runtime, Depends(get_runtime)], credentials: Credentials = None
) -> None:
    if runtime.settings.admin_token is None:
        raise Problem(404, "Admin API disabled", "set REGMAIL_ADMIN_TOKEN to enable it")
    if not is_admin(runtime, credentials.credentials if credentials else None):
        raise Problem(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})
