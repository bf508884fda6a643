"""Password reset: POST /v1/password-resets {email} (202 for any address, in the same time),
POST /v1/password-resets/complete {token, password}; and the pages: /forgot (ask), /reset
(the link in the mail: GET shows the form, POST sets the password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from regmail.accounts.addresses import parse_address
from regmail.accounts.passwords import MAX_INPUT_LENGTH, PasswordRefused
from regmail.accounts.resets import PasswordSet
from regmail.accounts.tokens import MAX_TOKEN_LENGTH, Purpose, TokenError
from regmail.api.csrf import FORM_POST
from regmail.api.deps import get_runtime, limit_client_and_address, limit_links
from regmail.api.messages import language, localized, refusal
from regmail.api.pages import TEXT, link_page, page_language, render_page, step_done
from regmail.api.problems import Problem, password_refused
from regmail.api.results import Accepted, ActivatedOut
from regmail.api.routes.activations import TOKEN_PROBLEMS, token_problem
from regmail.api.routes.registrations import PROBLEMS
from regmail.api.schemas import PasswordResetCompleteIn, PasswordResetIn
from regmail.metrics import ACCOUNT_CHANGES
from regmail.runtime import Runtime

router = APIRouter(tags=["password resets"])


@router.post(
    "/v1/password-resets",
    status_code=202,
    response_model=Accepted,
    responses=PROBLEMS,
    summary="Mail a password reset link to the address, if it has an account",
)
async def request_password_reset(
    body: PasswordResetIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Accepted:
    """Always 202, in the same time for any address: the account is looked up after the
    answer. An active or pending account gets a reset link (completing it activates a
    pending one: it proves the inbox), valid for REGMAIL_PASSWORD_RESET_TTL_SECONDS."""
    address = parse_address(body.email)
    await limit_client_and_address(request, address)
    await runtime.accounts.request_reset(address, language(request, body.locale))
    return Accepted()


@router.post(
    "/v1/password-resets/complete",
    response_model=ActivatedOut,
    responses={**TOKEN_PROBLEMS, 422: {"description": "The new password is refused; `errors`"}},
    dependencies=[Depends(limit_links)],
    summary="Set a new password with the token from the reset mail",
)
async def complete_password_reset(
    body: PasswordResetCompleteIn,
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> ActivatedOut:
    try:
        done = await runtime.accounts.resets.complete(body.token, body.password)
    except TokenError as error:
        raise token_problem(error) from None
    except PasswordRefused as refused:
        raise password_refused(refused, language(request)) from None
    ACCOUNT_CHANGES.labels("password_reset").inc()
    return ActivatedOut(account_id=done.account_id, email=done.email)


@router.get("/forgot", response_class=HTMLResponse, include_in_schema=False)
async def forgot_page(request: Request) -> HTMLResponse:
    return render_page(request, "forgot.html", page_language(request), errors={})


@router.post("/forgot", **FORM_POST)
async def forgot_form(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    email: Annotated[str, Form(max_length=320)] = "",
    locale: Annotated[str, Form(max_length=16)] = "en",
) -> HTMLResponse:
    lang = page_language(request, locale)
    try:
        body = PasswordResetIn(email=email)
    except ValidationError as error:
        item = error.errors()[0]
        message = localized(item["type"], lang, item["msg"])
        return render_page(
            request, "forgot.html", lang, 422, errors={"email": message}, email=email
        )
    try:
        address = parse_address(body.email)
        await limit_client_and_address(request, address)
        await runtime.accounts.request_reset(address, lang)
    except Problem as problem:
        key = "error_rate" if problem.status == 429 else "error_unavailable"
        form_error = TEXT[lang][key]
        return render_page(
            request,
            "forgot.html",
            lang,
            problem.status,
            errors={},
            email=email,
            form_error=form_error,
        )
    return render_page(request, "forgot.html", lang, accepted=True, errors={})


@router.get("/reset", response_class=HTMLResponse, include_in_schema=False)
async def reset_page(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[str, Query()] = "",
) -> Response:
    """Reads the token's state; changes nothing."""
    await limit_links(request)
    return await _page(request, runtime, token[:MAX_TOKEN_LENGTH], page_language(request))


async def _page(
    request: Request, runtime: Runtime, token: str, lang: str, error: str | None = None
) -> Response:
    links = runtime.accounts.links
    return await link_page(request, links, Purpose.RESET, "reset.html", token, lang, error)


@router.post("/reset", **FORM_POST)
async def reset_form(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)] = "",
    password: Annotated[str, Form(max_length=MAX_INPUT_LENGTH)] = "",
    locale: Annotated[str, Form(max_length=16)] = "en",
) -> Response:
    lang = page_language(request, locale)
    await limit_links(request)
    try:
        done: PasswordSet = await runtime.accounts.resets.complete(token, password)
    except TokenError:
        return await _page(request, runtime, token, lang)
    except PasswordRefused as refused:
        return await _page(request, runtime, token, lang, refusal(refused, lang))
    ACCOUNT_CHANGES.labels("password_reset").inc()
    after = runtime.settings.app_password_reset_path
    return step_done(request, after, "reset.html", lang, email=done.email, activated=done.activated)
