"""Every operation of regmail's HTTP API, once: its method, path, body and how its answer
is read. Client and AsyncClient only send these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from regmail.api.results import (
    AccountOut,
    ActivatedOut,
    Locale,
    MailOut,
    SuppressionOut,
    VerifiedOut,
)
from regmail.mails.status import DeadReason, MailStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    json: dict[str, Any] | None = None
    params: dict[str, str | int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _nothing(_: httpx.Response) -> None:
    return None


def _as(shape: type[T]) -> Callable[[httpx.Response], T]:
    adapter = TypeAdapter(shape)
    return lambda response: adapter.validate_json(response.content)


def _on_behalf_of(client_ip: str | None) -> dict[str, str]:
    """The end user's address, for regmail's per-client limits: honoured when the caller is
    a proxy regmail trusts (REGMAIL_TRUSTED_PROXIES, 127.0.0.1 and ::1 by default)."""
    return {"X-Forwarded-For": client_ip} if client_ip else {}


def _post(
    path: str, read: Callable[[httpx.Response], T], body: dict[str, Any], client_ip: str | None
) -> Call[T]:
    return Call("POST", path, read, body, headers=_on_behalf_of(client_ip))


def _without_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# Public operations


def register(email: str, password: str, locale: Locale, client_ip: str | None) -> Call[None]:
    body = {"email": email, "password": password, "locale": locale}
    return _post("/v1/registrations", _nothing, body, client_ip)


def resend_activation(email: str, locale: Locale | None, client_ip: str | None) -> Call[None]:
    body = _without_none(email=email, locale=locale)
    return _post("/v1/activations/resend", _nothing, body, client_ip)


def activate(token: str, password: str, client_ip: str | None) -> Call[ActivatedOut]:
    body = {"token": token, "password": password}
    return _post("/v1/activations", _as(ActivatedOut), body, client_ip)


def verify_credentials(email: str, password: str, client_ip: str | None) -> Call[VerifiedOut]:
    body = {"email": email, "password": password}
    return _post("/v1/credentials/verify", _as(VerifiedOut), body, client_ip)


def request_password_reset(email: str, locale: Locale | None, client_ip: str | None) -> Call[None]:
    body = _without_none(email=email, locale=locale)
    return _post("/v1/password-resets", _nothing, body, client_ip)


def complete_password_reset(token: str, password: str, client_ip: str | None) -> Call[ActivatedOut]:
    body = {"token": token, "password": password}
    return _post("/v1/password-resets/complete", _as(ActivatedOut), body, client_ip)


def request_email_change(
    email: str, password: str, new_email: str, client_ip: str | None
) -> Call[None]:
    body = {"email": email, "password": password, "new_email": new_email}
    return _post("/v1/email-changes", _nothing, body, client_ip)


def complete_email_change(token: str, client_ip: str | None) -> Call[ActivatedOut]:
    body = {"token": token}
    return _post("/v1/email-changes/complete", _as(ActivatedOut), body, client_ip)


# Admin operations (the client adds its admin token)


def list_messages(
    status: MailStatus | None,
    recipient: str | None,
    reason: DeadReason | None,
    since: str | datetime | None,
    limit: int,
) -> Call[list[MailOut]]:
    when = since.isoformat() if isinstance(since, datetime) else since
    params = _without_none(status=status, recipient=recipient, reason=reason, since=when)
    return Call("GET", "/v1/admin/messages", _as(list[MailOut]), params={**params, "limit": limit})


def get_message(mail_id: str) -> Call[MailOut]:
    return Call("GET", f"/v1/admin/messages/{quote(mail_id, safe='')}", _as(MailOut))


def retry_message(mail_id: str) -> Call[MailOut]:
    return Call("POST", f"/v1/admin/messages/{quote(mail_id, safe='')}/retry", _as(MailOut))


def mail_stats() -> Call[dict[str, int]]:
    return Call("GET", "/v1/admin/stats", _as(dict[str, int]))


def list_suppressions(limit: int) -> Call[list[SuppressionOut]]:
    read = _as(list[SuppressionOut])
    return Call("GET", "/v1/admin/suppressions", read, params={"limit": limit})


def lift_suppression(address: str) -> Call[None]:
    return Call("DELETE", f"/v1/admin/suppressions/{quote(address, safe='')}", _nothing)


def find_account(email: str) -> Call[AccountOut | None]:
    found = _as(list[AccountOut])

    def first(response: httpx.Response) -> AccountOut | None:
        return next(iter(found(response)), None)

    return Call("GET", "/v1/admin/accounts", first, params={"email": email})


def get_account(account_id: str) -> Call[AccountOut]:
    return Call("GET", f"/v1/admin/accounts/{quote(account_id, safe='')}", _as(AccountOut))


def delete_account(account_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/admin/accounts/{quote(account_id, safe='')}", _nothing)
