"""Activation: POST /v1/activations {token, password} (JSON), and the link in the mail:
GET /activate shows a page asking for the password (a GET changes nothing, so a mail
scanner that opens the link activates nothing), POST /activate is its form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from regmail.accounts.addresses import parse_address
from regmail.accounts.passwords import MAX_INPUT_LENGTH
from regmail.accounts.signup import WrongPassword
from regmail.accounts.tokens import MAX_TOKEN_LENGTH, Purpose, TokenError
from regmail.api.csrf import FORM_POST
from regmail.api.deps import get_runtime, limit_client_and_address, limit_links
from regmail.api.messages import language, localized
from regmail.api.pages import TEXT, link_page, page_language, render_page, step_done
from regmail.api.problems import BODY_PROBLEMS, Problem
from regmail.api.results import ActivatedOut
from regmail.api.schemas import ActivationIn
from regmail.metrics import ACTIVATIONS
from regmail.runtime import Runtime

router = APIRouter(tags=["activations"])

# code → (HTTP status, title): 400 for a token we never issued, 410 for one that is gone.
TOKEN_ERRORS = {
    "invalid": (400, "Unknown token"),
    "used": (410, "Token already used"),
    "expired": (410, "Token expired"),
}
TOKEN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **BODY_PROBLEMS,
    400: {"description": "Malformed JSON, an unknown token, or the wrong password (`errors`)"},
    410: {"description": "Token used or expired"},
    429: {"description": "Too many attempts from this client; see Retry-After"},
}


def token_problem(error: TokenError) -> Problem:
    status, title = TOKEN_ERRORS[error.code]
    return Problem(status, title, type_=f"/problems/token-{error.code}", extra={"code": error.code})


@router.post(
    "/v1/activations",
    response_model=ActivatedOut,
    responses=TOKEN_PROBLEMS,
    dependencies=[Depends(limit_links)],
    summary="Activate an account: the token from the mail and the password chosen at sign-up",
)
async def activate(
    body: ActivationIn, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> ActivatedOut:
    try:
        activated = await runtime.accounts.signup.activate(body.token, body.password)
    except TokenError as error:
        ACTIVATIONS.labels(error.code).inc()
        raise token_problem(error) from None
    except WrongPassword:
        ACTIVATIONS.labels("wrong_password").inc()
        message = localized("password.wrong", language(request))
        raise Problem(
            400,
            "Wrong password",
            message,
            type_="/problems/wrong-password",
            extra={"code": "wrong_password", "errors": [{"field": "password", "message": message}]},
        ) from None
    ACTIVATIONS.labels("activated").inc()
    return ActivatedOut(account_id=activated.account_id, email=activated.email)


@router.get("/activate", response_class=HTMLResponse, include_in_schema=False)
async def activate_page(
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
    return await link_page(request, links, Purpose.ACTIVATION, "activate.html", token, lang, error)


@router.post("/activate", **FORM_POST)
async def activate_form(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)] = "",
    password: Annotated[str, Form(max_length=MAX_INPUT_LENGTH)] = "",
    locale: Annotated[str, Form(max_length=16)] = "en",
) -> Response:
    lang = page_language(request, locale)
    await limit_links(request)
    try:
        activated = await runtime.accounts.signup.activate(token, password)
    except TokenError as error:
        ACTIVATIONS.labels(error.code).inc()
        return await _page(request, runtime, token, lang)
    except WrongPassword:
        ACTIVATIONS.labels("wrong_password").inc()
        return await _page(request, runtime, token, lang, localized("password.wrong", lang))
    ACTIVATIONS.labels("activated").inc()
    after = runtime.settings.app_activated_path
    return step_done(request, after, "activate.html", lang, email=activated.email)


@router.post("/resend", **FORM_POST)
async def resend_form(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    email: Annotated[str, Form(max_length=320)] = "",
    locale: Annotated[str, Form(max_length=16)] = "en",
) -> HTMLResponse:
    """The expired link's page: a new activation link (answered like the JSON resend)."""
    lang = page_language(request, locale)
    t = TEXT[lang]
    try:
        address = parse_address(email)
    except ValueError as error:
        return render_page(
            request, "notice.html", lang, 422, title=t["error_form"], body=str(error)
        )
    await limit_client_and_address(request, address)
    await runtime.accounts.request_resend(address, lang)
    return render_page(request, "notice.html", lang, title=t["resent_title"], body=t["resent_body"])
