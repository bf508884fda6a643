"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from regmail.api.admin_auth import bearer_token, is_admin
from regmail.api.deps import get_runtime
from regmail.clock import utcnow
from regmail.delivery.pauses import current_pause
from regmail.mails.outbox import waiting
from regmail.metrics import BROKER_BACKLOG, OUTBOX_DEPTH, OUTBOX_OLDEST_SECONDS, render
from regmail.runtime import Runtime

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", summary="The process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready when the database is reachable; states of the broker and delivery "
    "(with the admin token: why)",
)
async def readyz(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> JSONResponse:
    checks: dict[str, str] = {}
    detail: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        checks["database"] = "unavailable"
        detail["database"] = type(error).__name__
    if runtime.relays:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                reachable = await runtime.broker.ready()
        except TimeoutError:
            reachable = False
        checks["broker"] = "ok" if reachable else "unavailable"
    else:
        checks["broker"] = checks["database"]  # the outbox table is the queue
    # Only the database decides: with the broker away, sign-ups still go to the outbox
    # and are relayed later, so taking the API out of a load balancer would only hurt.
    ready = checks["database"] == "ok"
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if ready:
        # Delivery's state is news for operators, not a reason to stop taking sign-ups.
        pause = await current_pause(runtime.engine)
        body["delivery"] = "paused" if pause else "ok"
        if pause:
            detail["delivery"] = pause
    # The provider's replies and the workers' host names are the operator's business.
    if is_admin(runtime, bearer_token(request)):
        body["detail"] = detail
    return JSONResponse(body, status_code=200 if ready else 503)


# /metrics: on the public port, or only on the admin listener when there is one.
metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    await _read_queue_gauges(runtime)
    body, content_type = render()
    return Response(body, media_type=content_type)


async def _read_queue_gauges(runtime: Runtime) -> None:
    """The outbox's and the broker's backlog, read now: a scrape sees the current state.
    A part that does not answer leaves its gauge as it was (readyz says why)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            depth, oldest = await waiting(runtime.engine, utcnow())
        OUTBOX_DEPTH.set(depth)
        OUTBOX_OLDEST_SECONDS.set(oldest)
        if runtime.relays:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                backlog = await runtime.broker.backlog()
            if backlog is not None:
                BROKER_BACKLOG.set(backlog)
    except Exception as error:  # a scrape must not fail because a dependency is away
        log.info("metrics_backlog_unread", error=type(error).__name__)
