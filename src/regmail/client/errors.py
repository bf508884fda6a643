"""regmail's problem details (RFC 9457) as exceptions: one class per answer a caller acts on
differently, each carrying the whole problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class RegmailError(Exception):
    """Any answer that is not a success. `code` is regmail's own (e.g. `expired`), if any."""

    def __init__(self, status: int, problem: dict[str, Any], headers: httpx.Headers) -> None:
        self.status = status
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", ""))
        self.detail = problem.get("detail")
        self.code = problem.get("code")
        self.errors = [FieldError(e["field"], e["message"]) for e in problem.get("errors", [])]
        retry_after = headers.get("retry-after", "")
        self.retry_after = int(retry_after) if retry_after.isdigit() else None
        self.request_id = headers.get("x-request-id")
        super().__init__(f"{status} {self.title}" + (f": {self.detail}" if self.detail else ""))


class ValidationFailed(RegmailError):
    """400 / 413 / 422: a field is invalid (`errors` names it), or the body is not JSON."""


class TokenInvalid(RegmailError):
    """400: a token regmail never issued."""


class TokenGone(RegmailError):
    """410: the link was used (`code` 'used') or has expired ('expired')."""


class WrongPassword(RegmailError):
    """400: the activation link's own password was not the one given."""


class InvalidCredentials(RegmailError):
    """401: unknown address or wrong password (regmail does not say which)."""


class NotActivated(RegmailError):
    """403: the right password, but the account is not activated yet."""


class AccountLocked(RegmailError):
    """423: too many failures in a row; only a password reset opens it."""


class RateLimited(RegmailError):
    """429: too many requests; `retry_after` says when to try again."""


class Unauthorized(RegmailError):
    """401 on an admin operation: the admin token is missing or wrong."""


class NotFound(RegmailError):
    """404: no such mail, suppression or account (or the admin API is disabled)."""


class Conflict(RegmailError):
    """409: the new address has an account by now, or the mail cannot be replayed."""


class ServiceUnavailable(RegmailError):
    """503: regmail cannot reach its database; retry after `retry_after` seconds."""


_BY_TYPE: dict[str, type[RegmailError]] = {
    "/problems/token-invalid": TokenInvalid,
    "/problems/token-used": TokenGone,
    "/problems/token-expired": TokenGone,
    "/problems/wrong-password": WrongPassword,
    "/problems/invalid": InvalidCredentials,
    "/problems/not-activated": NotActivated,
    "/problems/locked": AccountLocked,
}
_BY_STATUS: dict[int, type[RegmailError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: ValidationFailed,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_of(response: httpx.Response) -> RegmailError:
    """The exception for an error answer; a body that is not a problem (a proxy's page, say)
    still gives a RegmailError with the status."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"title": response.reason_phrase}
    kind = _BY_TYPE.get(str(problem.get("type")), _BY_STATUS.get(response.status_code))
    return (kind or RegmailError)(response.status_code, problem, response.headers)
