"""The FastAPI application."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

import regmail
from regmail.api.client_address import ClientAddress
from regmail.api.csrf import CsrfRefused
from regmail.api.http_metrics import HttpMetrics
from regmail.api.limits import BodySizeLimit
from regmail.api.pages import form_expired
from regmail.api.problems import document_problems, install_problem_handlers
from regmail.api.request_ids import RequestIds
from regmail.api.routes import (
    activations,
    admin,
    credentials,
    dev,
    email_changes,
    health,
    pages,
    password_resets,
    registrations,
)
from regmail.api.security_headers import SecurityHeaders
from regmail.limits import RateLimits
from regmail.networks import TrustedProxies
from regmail.runtime import Runtime

DEV_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _new_app(runtime: Runtime, lifespan: Lifespan | None, title: str) -> FastAPI:
    settings = runtime.settings
    # Swagger UI with its assets served from the package (no CDN), or no docs at all.
    docs: dict[str, Any] = (
        {"docs_url": "/docs", "static_url": "/docs/assets"}
        if settings.api_docs
        else {"docs_url": None, "openapi_url": None}
    )
    app = (FastAPIOffline if settings.api_docs else FastAPI)(
        **docs,
        redoc_url=None,
        # operationIds are the route functions' names: what a generated client calls them.
        generate_unique_id_function=lambda route: route.name,
        title=title,
        version=regmail.__version__,
        description="Sign-up with email activation, delivered through a transactional outbox.",
        # FastAPI's own spans (request, dependencies, endpoint) go to the tracer provider
        # regmail.tracing sets up for an OTLP endpoint. Without one they would still cost
        # CPU on every request (no-op spans), and its metrics and logs duplicate ours.
        lifespan=lifespan,
        telemetry={
            "tracing": settings.otlp_endpoint is not None,
            "metrics": False,
            "logs": False,
        },
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


def create_admin_app(runtime: Runtime) -> FastAPI:
    """The admin listener (REGMAIL_ADMIN_BIND): the admin API, health and /metrics, on an
    address of their own; the public app then has neither the admin API nor /metrics."""
    app = _new_app(runtime, None, "regmail admin")
    app.add_middleware(RequestIds)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpMetrics)
    for router in (admin.router, health.router, health.metrics_router):
        app.include_router(router)
    return app


def create_app(runtime: Runtime, lifespan: Lifespan | None = None) -> FastAPI:
    """An app over `runtime`; `lifespan` runs what goes beside it (roles.api)."""
    settings = runtime.settings
    app = _new_app(runtime, lifespan, "regmail")
    app.state.rate_limits = RateLimits.build(settings, runtime.engine)
    app.add_exception_handler(CsrfRefused, form_expired)
    if settings.cors_origins:  # headless mode: the application's frontend calls the API
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            # No Authorization: a browser never sends the admin token cross-origin.
            allow_headers=["content-type", "accept-language", "x-request-id"],
            expose_headers=["retry-after", "x-request-id"],
            max_age=600,
        )
    app.add_middleware(RequestIds)  # even a 413 carries its id
    app.add_middleware(ClientAddress, trusted=TrustedProxies(settings.trusted_proxies))
    if settings.dev_mode:
        # A page elsewhere can point a name of its own at 127.0.0.1 (DNS rebinding) and
        # then read /dev/mailbox as same-origin; it cannot make the browser say Host: 127.0.0.1.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=DEV_HOSTS)
    app.add_middleware(SecurityHeaders, app_url=settings.app_url)
    app.add_middleware(HttpMetrics)  # outermost: it times and counts everything
    for module in (
        registrations,
        activations,
        credentials,
        password_resets,
        email_changes,
        health,
        pages,
    ):
        app.include_router(module.router)
    if settings.admin_bind is None:
        app.include_router(health.metrics_router)
        # The admin routes are not in the public schema (nor Swagger UI) unless asked for.
        app.include_router(admin.router, include_in_schema=settings.api_docs_admin)
    if settings.dev_mode:
        app.include_router(dev.router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/signup")

    return app
