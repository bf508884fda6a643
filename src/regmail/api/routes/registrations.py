"""POST /v1/registrations and /v1/activations/resend: always 202, whoever asks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from regmail.accounts.addresses import parse_address
from regmail.api.deps import get_runtime, limit_address, limit_client
from regmail.api.schemas import Accepted, RegistrationIn, ResendIn
from regmail.runtime import Runtime

router = APIRouter(tags=["registrations"])

PROBLEMS = {
    400: {"description": "Malformed JSON"},
    413: {"description": "Body too large"},
    422: {"description": "A field is invalid; `errors` names it"},
    429: {"description": "Too many requests from this client or for this address; see Retry-After"},
    503: {"description": "Database unavailable; retry"},
}


@router.post(
    "/v1/registrations",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEMS,  # type: ignore[arg-type]
    dependencies=[Depends(limit_client)],
    summary="Sign up; the activation mail follows",
)
async def register(
    body: RegistrationIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Accepted:
    """Answers the same 202 for a new address and a known one, so addresses cannot be probed.
    A known pending address gets its activation mail again (rate-limited); a known active
    one gets an "you already have an account" mail."""
    address = parse_address(body.email)
    limit_address(request, address)
    await runtime.accounts.register(address, body.password, body.locale)
    return Accepted()


@router.post(
    "/v1/activations/resend",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEMS,  # type: ignore[arg-type]
    dependencies=[Depends(limit_client)],
    tags=["activations"],
    summary="Send the activation mail again",
)
async def resend(
    body: ResendIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Accepted:
    """Always 202. Only a pending account gets a mail, within the per-address limits."""
    address = parse_address(body.email)
    limit_address(request, address)
    await runtime.accounts.resend(address)
    return Accepted()
