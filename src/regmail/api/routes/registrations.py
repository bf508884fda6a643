"""POST /v1/registrations and /v1/activations/resend: always 202, whoever asks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from regmail.accounts.addresses import parse_address
from regmail.accounts.passwords import PasswordRefused
from regmail.api.deps import get_runtime, limit_client_and_address
from regmail.api.messages import language
from regmail.api.problems import BODY_PROBLEMS, password_refused
from regmail.api.results import Accepted
from regmail.api.schemas import RegistrationIn, ResendIn
from regmail.runtime import Runtime

router = APIRouter(tags=["registrations"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    **BODY_PROBLEMS,
    422: {
        "description": "A field is invalid (the password too short, common, …); `errors` names it"
    },
    429: {"description": "Too many requests from this client or for this address; see Retry-After"},
}


@router.post(
    "/v1/registrations",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEMS,
    summary="Sign up; the activation mail follows",
)
async def register(
    body: RegistrationIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Accepted:
    """Answers the same 202 for a new address and a known one, so addresses cannot be probed.
    Each sign-up for a pending address gets an activation link of its own, bound to its own
    password (rate-limited); a known active address gets an "you already have an account"
    mail."""
    address = parse_address(body.email)
    await limit_client_and_address(request, address)
    try:
        await runtime.accounts.signup.register(address, body.password, body.locale)
    except PasswordRefused as refused:
        raise password_refused(refused, body.locale) from None
    return Accepted()


@router.post(
    "/v1/activations/resend",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEMS,
    tags=["activations"],
    summary="Send the activation mail again",
)
async def resend_activation(
    body: ResendIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Accepted:
    """Always 202, in the same time for any address: a pending account gets its activation
    mail again (within the per-address limits), looked up after the answer."""
    address = parse_address(body.email)
    await limit_client_and_address(request, address)
    await runtime.accounts.request_resend(address, language(request, body.locale))
    return Accepted()
