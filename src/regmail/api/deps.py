"""Shared request dependencies."""

from __future__ import annotations

from fastapi import Request

from regmail.accounts.addresses import Address
from regmail.api.limits import RateLimiter
from regmail.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def limit_client(request: Request) -> None:
    """Count this request against its client IP's sign-up/resend budget (429 past it)."""
    limiter: RateLimiter = request.app.state.client_limiter
    limiter.hit(request.client.host if request.client else "unknown")


def limit_address(request: Request, address: Address) -> None:
    """Count this request against the named address's budget (429 past it).

    Counted before the database is asked anything, so the answer never depends on whether
    the address has an account."""
    limiter: RateLimiter = request.app.state.address_limiter
    limiter.hit(address.key)
