"""Shared request dependencies: the runtime, and the per-client rate limits."""

from __future__ import annotations

from fastapi import Request

from regmail.accounts.addresses import Address
from regmail.api.problems import Problem
from regmail.limits import RateLimit, RateLimited, RateLimits, hit_together
from regmail.networks import network_of
from regmail.runtime import Runtime


# Dependencies are `async def` even when they never await: FastAPI runs a plain `def`
# one in its thread pool, a trip to another thread and back on every request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_ip(request: Request) -> str:
    """The client's address (through trusted proxies: api/client_address.py)."""
    return request.client.host if request.client else "unknown"


def _client_network(request: Request) -> str:
    """What the per-client limits count: the client's network (/64 for IPv6)."""
    return network_of(client_ip(request))


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


async def _spend(*hits: tuple[RateLimit, str]) -> None:
    try:
        await hit_together(*hits)
    except RateLimited as limited:
        raise Problem(
            429,
            "Too many requests",
            f"try again in {limited.retry_after} s",
            headers={"Retry-After": str(limited.retry_after)},
        ) from None


async def limit_client_and_address(request: Request, address: Address) -> None:
    """Count a request that names an address (sign-up, resend, reset) against its client
    network's budget and against the address's budget from that network; 429 past either.

    Counted before the database is asked anything, so the answer never depends on whether
    the address has an account; the address's per client, so nobody can spend the owner's
    budget. Both in one statement where the counters are shared (PostgreSQL)."""
    limits, network = _limits(request), _client_network(request)
    await _spend((limits.per_client, network), (limits.per_address, f"{address.key}|{network}"))


async def limit_sign_in_checks(request: Request) -> None:
    await _spend((_limits(request).sign_in_checks, _client_network(request)))


async def limit_links(request: Request) -> None:
    """Uses and views of tokens: made-up ones cannot be tried at speed."""
    await _spend((_limits(request).link_uses, _client_network(request)))
