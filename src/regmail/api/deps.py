"""Shared request dependencies."""

from __future__ import annotations

from fastapi import Request

from regmail.api.limits import RateLimiter
from regmail.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def limit_client(request: Request) -> None:
    """Count this request against its client IP's sign-up/resend budget (429 past it)."""
    limiter: RateLimiter = request.app.state.client_limiter
    limiter.hit(request.client.host if request.client else "unknown")
