"""POST /v1/activations (JSON) and GET /activate (the link in the mail, HTML)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regmail.accounts.service import ActivationError
from regmail.api.deps import get_runtime
from regmail.api.pages import page_language, render_page
from regmail.api.problems import Problem
from regmail.api.schemas import ActivatedOut, ActivationIn
from regmail.metrics import ACTIVATIONS
from regmail.runtime import Runtime

router = APIRouter(tags=["activations"])

# code → (HTTP status, title): 400 for a token we never issued, 410 for one that is gone.
ERRORS = {
    "invalid": (400, "Unknown activation token"),
    "used": (410, "Activation token already used"),
    "expired": (410, "Activation token expired"),
}


async def _activate(runtime: Runtime, token: str) -> str:
    try:
        activated = await runtime.accounts.activate(token)
    except ActivationError as error:
        ACTIVATIONS.labels(error.code).inc()
        raise
    ACTIVATIONS.labels("activated").inc()
    return activated.email


@router.post(
    "/v1/activations",
    response_model=ActivatedOut,
    responses={
        400: {"description": "Unknown token"},
        410: {"description": "Token used or expired"},
        422: {"description": "Invalid body"},
    },
    summary="Activate an account with the token from the mail",
)
async def activate(
    body: ActivationIn, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> ActivatedOut:
    try:
        email = await _activate(runtime, body.token)
    except ActivationError as error:
        status, title = ERRORS[error.code]
        raise Problem(
            status, title, type_=f"/problems/token-{error.code}", extra={"code": error.code}
        ) from None
    return ActivatedOut(email=email)


@router.get("/activate", response_class=HTMLResponse, include_in_schema=False)
async def activate_page(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[str, Query()] = "",
) -> HTMLResponse:
    lang = page_language(request)
    try:
        email = await _activate(runtime, token)
    except ActivationError as error:
        status, _ = ERRORS[error.code]
        return render_page(request, "activate.html", lang, status=status, error=error.code)
    return render_page(request, "activate.html", lang, email=email)
