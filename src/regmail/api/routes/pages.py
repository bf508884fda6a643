"""GET/POST /signup: a form that works without JavaScript, in en and zh-CN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from regmail.accounts.addresses import parse_address
from regmail.accounts.passwords import MAX_INPUT_LENGTH, PasswordRefused, check_new_password
from regmail.api.csrf import FORM_POST
from regmail.api.deps import get_runtime, limit_client_and_address
from regmail.api.messages import localized, refusal
from regmail.api.pages import TEXT, page_language, render_page
from regmail.api.problems import Problem
from regmail.api.schemas import RegistrationIn
from regmail.runtime import Runtime

router = APIRouter(include_in_schema=False)


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request) -> HTMLResponse:
    return render_page(request, "signup.html", page_language(request), errors={})


@router.post("/signup", **FORM_POST)
async def signup_submit(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=MAX_INPUT_LENGTH)] = "",
    locale: Annotated[str, Form(max_length=16)] = "en",
) -> HTMLResponse:
    lang = page_language(request, locale)
    errors = _field_errors(email, password, lang, runtime.settings.password_min_length)
    if errors:
        return _form(request, lang, 422, errors, email)
    try:
        address = parse_address(email)
        await limit_client_and_address(request, address)
        await runtime.accounts.signup.register(address, password, lang)
    except Problem as problem:
        key = "error_rate" if problem.status == 429 else "error_unavailable"
        return _form(request, lang, problem.status, {}, email, TEXT[lang][key])
    return render_page(request, "signup.html", lang, accepted=True, errors={})


def _field_errors(email: str, password: str, lang: str, min_length: int) -> dict[str, str]:
    """Every field's error at once (the password's too, when the address is wrong)."""
    errors: dict[str, str] = {}
    try:
        RegistrationIn(email=email, password=password, locale=lang)  # type: ignore[arg-type]
    except ValidationError as error:
        for item in error.errors():
            errors[str(item["loc"][0])] = localized(item["type"], lang, item["msg"])
    try:
        check_new_password(password, min_length, None if "email" in errors else email)
    except PasswordRefused as refused:
        message = refusal(refused, lang)
        errors["password"] = message
    return errors


def _form(
    request: Request,
    lang: str,
    status: int,
    errors: dict[str, str],
    email: str,
    form_error: str | None = None,
) -> HTMLResponse:
    return render_page(
        request, "signup.html", lang, status, errors=errors, email=email, form_error=form_error
    )
