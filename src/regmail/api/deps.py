"""Shared request dependencies: the runtime, and the per-client rate limits."""

from __future__ import annotations

from fastapi import Request

from regmail.accounts.addresses import Address
from regmail.api.limits import RateLimiter
from regmail.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_client(request: Request) -> None:
    """Count this request against its client IP's sign-up/resend/reset budget (429 past it)."""
    limiter: RateLimiter = request.app.state.client_limiter
    limiter.hit(client_ip(request))


def limit_address(request: Request, address: Address) -> None:
    """Count this request against the named address's budget from this client (429 past it).

    Counted before the database is asked anything, so the answer never depends on whether
    the address has an account; per client, so nobody can spend the owner's budget."""
    limiter: RateLimiter = request.app.state.address_limiter
    limiter.hit(f"{address.key}|{client_ip(request)}")


def limit_sign_in_checks(request: Request) -> None:
    limiter: RateLimiter = request.app.state.sign_in_limiter
    limiter.hit(client_ip(request))


def limit_links(request: Request) -> None:
    """Uses and views of tokens: made-up ones cannot be tried at speed."""
    limiter: RateLimiter = request.app.state.link_limiter
    limiter.hit(client_ip(request))
