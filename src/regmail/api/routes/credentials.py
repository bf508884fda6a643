"""POST /v1/credentials/verify: the sign-in check for the host application's backend.

Pass the end user's IP as X-Forwarded-For (from a proxy uvicorn trusts): failures are
throttled per address and client network, so the backend's own IP must not stand for
every user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from regmail.accounts.addresses import parse_address
from regmail.accounts.credentials import CredentialsRefused
from regmail.api.deps import client_ip, get_runtime, limit_sign_in_checks
from regmail.api.problems import BODY_PROBLEMS, Problem
from regmail.api.results import VerifiedOut
from regmail.api.schemas import CredentialsIn
from regmail.metrics import SIGN_IN_CHECKS
from regmail.runtime import Runtime

router = APIRouter(tags=["credentials"])

# code → (status, title): one 401 for every failure, whatever its cause.
REFUSALS = {
    "invalid": (401, "Invalid email or password"),
    "not_activated": (403, "Account not activated"),
    "locked": (423, "Account locked: reset the password"),
    "throttled": (429, "Too many failed attempts; try again later"),
}
CREDENTIAL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **BODY_PROBLEMS,
    401: {"description": "Unknown address or wrong password (one answer for both)"},
    403: {"description": "The right password, but the account is not activated yet"},
    423: {
        "description": "The right password, but 100 failures in a row locked the account "
        "until its password is reset"
    },
    429: {"description": "Too many failed checks for this address from this network"},
}


def refusal_problem(refused: CredentialsRefused) -> Problem:
    status, title = REFUSALS[refused.code]
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
    return Problem(
        status,
        title,
        type_=f"/problems/{refused.code.replace('_', '-')}",
        extra={"code": refused.code},
        headers=headers,
    )


@router.post(
    "/v1/credentials/verify",
    response_model=VerifiedOut,
    responses=CREDENTIAL_PROBLEMS,
    dependencies=[Depends(limit_sign_in_checks)],
    summary="Check an email and password (sign-in)",
)
async def verify_credentials(
    body: CredentialsIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> VerifiedOut:
    address = parse_address(body.email)
    try:
        verified = await runtime.accounts.credentials.verify(
            address, body.password, client_ip(request)
        )
    except CredentialsRefused as refused:
        SIGN_IN_CHECKS.labels(refused.code).inc()
        raise refusal_problem(refused) from None
    SIGN_IN_CHECKS.labels("verified").inc()
    return VerifiedOut(account_id=verified.account_id, email=verified.email, status=verified.status)
