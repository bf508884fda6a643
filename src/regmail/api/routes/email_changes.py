"""Address change: POST /v1/email-changes {email, password, new_email} (202, a link to the
new address and a notice to the old), POST /v1/email-changes/complete {token}; and the
page behind the link, /confirm-email (GET shows a button, POST makes the change)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from regmail.accounts.addresses import parse_address
from regmail.accounts.credentials import CredentialsRefused
from regmail.accounts.email_changes import AddressTaken
from regmail.accounts.tokens import MAX_TOKEN_LENGTH, Purpose, TokenError
from regmail.api.csrf import FORM_POST
from regmail.api.deps import client_ip, get_runtime, limit_links, limit_sign_in_checks
from regmail.api.pages import link_page, link_redirect, page_language, render_page, step_done
from regmail.api.problems import Problem
from regmail.api.results import Accepted, ActivatedOut
from regmail.api.routes.activations import TOKEN_PROBLEMS, token_problem
from regmail.api.routes.credentials import CREDENTIAL_PROBLEMS, refusal_problem
from regmail.api.schemas import EmailChangeCompleteIn, EmailChangeIn
from regmail.metrics import ACCOUNT_CHANGES
from regmail.runtime import Runtime

router = APIRouter(tags=["email changes"])


@router.post(
    "/v1/email-changes",
    status_code=202,
    response_model=Accepted,
    responses=CREDENTIAL_PROBLEMS,
    dependencies=[Depends(limit_sign_in_checks)],
    summary="Ask to change an account's address: a confirmation link goes to the new one",
)
async def request_email_change(
    body: EmailChangeIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Accepted:
    """The password is checked like a sign-in (same answers, same throttling). The 202 says
    nothing of whether the new address is free: only a free one gets the link, and the old
    address is told of the request either way."""
    address, new_address = parse_address(body.email), parse_address(body.new_email)
    try:
        await runtime.accounts.email_changes.request(
            address, body.password, new_address, client_ip(request)
        )
    except CredentialsRefused as refused:
        raise refusal_problem(refused) from None
    return Accepted()


@router.post(
    "/v1/email-changes/complete",
    response_model=ActivatedOut,
    responses={**TOKEN_PROBLEMS, 409: {"description": "The new address has an account by now"}},
    dependencies=[Depends(limit_links)],
    summary="Make the change, with the token from the mail to the new address",
)
async def complete_email_change(
    body: EmailChangeCompleteIn, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> ActivatedOut:
    try:
        changed = await runtime.accounts.email_changes.complete(body.token)
    except TokenError as error:
        raise token_problem(error) from None
    except AddressTaken:
        raise Problem(
            409, "Address taken", "the new address has an account by now", type_="/problems/taken"
        ) from None
    ACCOUNT_CHANGES.labels("email_changed").inc()
    return ActivatedOut(account_id=changed.account_id, email=changed.email)


@router.get("/confirm-email", response_class=HTMLResponse, include_in_schema=False)
async def confirm_page(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[str, Query()] = "",
) -> Response:
    """Reads the token's state; changes nothing."""
    await limit_links(request)
    links = runtime.accounts.links
    token, lang = token[:MAX_TOKEN_LENGTH], page_language(request)
    return await link_page(request, links, Purpose.EMAIL_CHANGE, "confirm_email.html", token, lang)


@router.post("/confirm-email", **FORM_POST)
async def confirm_form(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)] = "",
    locale: Annotated[str, Form(max_length=16)] = "en",
) -> Response:
    lang = page_language(request, locale)
    await limit_links(request)
    link = await runtime.accounts.links.state(token, Purpose.EMAIL_CHANGE)
    try:
        changed = await runtime.accounts.email_changes.complete(token)
    except TokenError as error:
        redirect = link_redirect(request, Purpose.EMAIL_CHANGE, error.code)
        status = 400 if error.code == "invalid" else 410
        return redirect or render_page(
            request, "confirm_email.html", lang, status, state=error.code
        )
    except AddressTaken:
        return render_page(
            request, "confirm_email.html", lang, 409, state="taken", email=link.email
        )
    ACCOUNT_CHANGES.labels("email_changed").inc()
    after = runtime.settings.app_email_changed_path
    return step_done(request, after, "confirm_email.html", lang, email=changed.email)
