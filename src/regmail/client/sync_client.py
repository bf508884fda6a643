"""Client: regmail's HTTP API from blocking code."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import httpx

from regmail.api.results import (
    AccountOut,
    ActivatedOut,
    Locale,
    MailOut,
    SuppressionOut,
    VerifiedOut,
)
from regmail.client import calls
from regmail.client.calls import Call
from regmail.client.errors import error_of
from regmail.client.session import http_options
from regmail.mails.status import DeadReason, MailStatus

T = TypeVar("T")


class Client:
    """`Client("http://regmail:8000", admin_token=...)`; every method raises a RegmailError
    subclass for a problem answer, httpx.TransportError when regmail cannot be reached."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            **http_options(base_url, admin_token, timeout), transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        response = self._http.request(
            call.method, call.path, json=call.json, params=call.params, headers=call.headers
        )
        if response.is_error:
            raise error_of(response)
        return call.read(response)

    def register(
        self, email: str, password: str, *, locale: Locale = "en", client_ip: str | None = None
    ) -> None:
        """Sign up; the activation mail follows. The same answer for a known address."""
        self._send(calls.register(email, password, locale, client_ip))

    def resend_activation(
        self, email: str, *, locale: Locale | None = None, client_ip: str | None = None
    ) -> None:
        self._send(calls.resend_activation(email, locale, client_ip))

    def activate(self, token: str, password: str, *, client_ip: str | None = None) -> ActivatedOut:
        return self._send(calls.activate(token, password, client_ip))

    def verify_credentials(
        self, email: str, password: str, *, client_ip: str | None = None
    ) -> VerifiedOut:
        return self._send(calls.verify_credentials(email, password, client_ip))

    def request_password_reset(
        self, email: str, *, locale: Locale | None = None, client_ip: str | None = None
    ) -> None:
        self._send(calls.request_password_reset(email, locale, client_ip))

    def complete_password_reset(
        self, token: str, password: str, *, client_ip: str | None = None
    ) -> ActivatedOut:
        return self._send(calls.complete_password_reset(token, password, client_ip))

    def request_email_change(
        self, email: str, password: str, new_email: str, *, client_ip: str | None = None
    ) -> None:
        self._send(calls.request_email_change(email, password, new_email, client_ip))

    def complete_email_change(self, token: str, *, client_ip: str | None = None) -> ActivatedOut:
        return self._send(calls.complete_email_change(token, client_ip))

    def list_messages(
        self,
        *,
        status: MailStatus | None = None,
        recipient: str | None = None,
        reason: DeadReason | None = None,
        since: str | datetime | None = None,
        limit: int = 100,
    ) -> list[MailOut]:
        return self._send(calls.list_messages(status, recipient, reason, since, limit))

    def get_message(self, mail_id: str) -> MailOut:
        return self._send(calls.get_message(mail_id))

    def retry_message(self, mail_id: str) -> MailOut:
        return self._send(calls.retry_message(mail_id))

    def mail_stats(self) -> dict[str, int]:
        return self._send(calls.mail_stats())

    def list_suppressions(self, *, limit: int = 1000) -> list[SuppressionOut]:
        return self._send(calls.list_suppressions(limit))

    def lift_suppression(self, address: str) -> None:
        self._send(calls.lift_suppression(address))

    def find_account(self, email: str) -> AccountOut | None:
        return self._send(calls.find_account(email))

    def get_account(self, account_id: str) -> AccountOut:
        return self._send(calls.get_account(account_id))

    def delete_account(self, account_id: str) -> None:
        self._send(calls.delete_account(account_id))
