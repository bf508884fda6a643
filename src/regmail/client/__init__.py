"""A typed client for regmail's HTTP API: `Client` (blocking) and `AsyncClient` (asyncio), on
httpx. Results are the API's own models; problem answers are RegmailError subclasses."""

from regmail.api.results import (
    AccountOut,
    ActivatedOut,
    Locale,
    MailOut,
    SuppressionOut,
    VerifiedOut,
)
from regmail.client.async_client import AsyncClient
from regmail.client.errors import (
    AccountLocked,
    Conflict,
    FieldError,
    InvalidCredentials,
    NotActivated,
    NotFound,
    RateLimited,
    RegmailError,
    ServiceUnavailable,
    TokenGone,
    TokenInvalid,
    Unauthorized,
    ValidationFailed,
    WrongPassword,
)
from regmail.client.sync_client import Client

__all__ = [
    "AccountLocked",
    "AccountOut",
    "ActivatedOut",
    "AsyncClient",
    "Client",
    "Conflict",
    "FieldError",
    "InvalidCredentials",
    "Locale",
    "MailOut",
    "NotActivated",
    "NotFound",
    "RateLimited",
    "RegmailError",
    "ServiceUnavailable",
    "SuppressionOut",
    "TokenGone",
    "TokenInvalid",
    "Unauthorized",
    "ValidationFailed",
    "VerifiedOut",
    "WrongPassword",
]
