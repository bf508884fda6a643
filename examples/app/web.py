"""The application's pages: sign-up and sign-in through regmail, its own session cookie, and
the endpoint where regmail's signed webhooks arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from examples.app.settings import ExampleSettings
from examples.app.users import Users
from regmail.client import (
    AccountLocked,
    AsyncClient,
    InvalidCredentials,
    NotActivated,
    RateLimited,
    RegmailError,
    ValidationFailed,
)
from regmail.webhooks import WebhookVerificationError, verify

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
Field = Annotated[str, Form(max_length=400)]


def create_app(settings: ExampleSettings) -> FastAPI:
    users = Users(settings.database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncClient(settings.regmail_url) as regmail:
            app.state.regmail = regmail
            yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie="example_session",
        same_site="lax",
        https_only=False,  # served over plain HTTP on 127.0.0.1; set True behind TLS
    )

    @app.exception_handler(httpx.TransportError)
    async def regmail_unreachable(request: Request, _: httpx.TransportError) -> HTMLResponse:
        return page(request, "unavailable.html", 503)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context |= {"session": request.session, "regmail_url": settings.regmail_url}
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        account_id = request.session.get("account_id")
        user = users.get(account_id) if account_id else None
        return page(request, "home.html", user=user)

    @app.get("/signup", response_class=HTMLResponse)
    async def signup_form(request: Request) -> HTMLResponse:
        return page(request, "signup.html")

    @app.post("/signup", response_class=HTMLResponse)
    async def signup(request: Request, email: Field, password: Field) -> HTMLResponse:
        regmail: AsyncClient = request.app.state.regmail
        try:
            await regmail.register(email, password, client_ip=_client_ip(request))
        except RegmailError as error:
            return page(request, "signup.html", 400, email=email, error=_explain(error))
        return page(request, "check_inbox.html", email=email)

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_form(
        request: Request, activated: bool = False, reset: bool = False
    ) -> HTMLResponse:
        return page(request, "signin.html", activated=activated, reset=reset)

    @app.post("/signin", response_model=None)
    async def signin(request: Request, email: Field, password: Field) -> Response:
        regmail: AsyncClient = request.app.state.regmail
        try:
            account = await regmail.verify_credentials(
                email, password, client_ip=_client_ip(request)
            )
        except RegmailError as error:
            return page(request, "signin.html", 400, email=email, error=_explain(error))
        request.session.update(account_id=account.account_id, email=account.email)
        return RedirectResponse("/", status_code=303)

    @app.post("/signout")
    async def signout(request: Request) -> RedirectResponse:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    @app.get("/link-failed", response_class=HTMLResponse)
    async def link_failed(request: Request, step: str = "", reason: str = "") -> HTMLResponse:
        return page(request, "link_failed.html", step=step, reason=reason)

    @app.post("/webhooks/regmail", status_code=204)
    async def regmail_events(request: Request) -> Response:
        secret = settings.webhook_secret.get_secret_value()
        try:
            event = verify(request.headers, await request.body(), secret)
        except WebhookVerificationError:
            return Response(status_code=400)  # not from regmail: regmail never retries a 400
        users.apply(event)
        return Response(status_code=204)

    return app


def _client_ip(request: Request) -> str | None:
    """The person's address, so regmail's limits count each person, not this server."""
    return request.client.host if request.client else None


def _explain(error: RegmailError) -> str:
    """What the person reads: regmail's own words where it names a field."""
    if isinstance(error, ValidationFailed) and error.errors:
        return "; ".join(f"{e.field}: {e.message}" for e in error.errors)
    if isinstance(error, InvalidCredentials):
        return "Wrong email or password."
    if isinstance(error, NotActivated):
        return "Activate your account first: the link is in the mail we sent you."
    if isinstance(error, AccountLocked):
        return "Too many failed sign-ins: reset your password to unlock the account."
    if isinstance(error, RateLimited):
        return f"Too many attempts; try again in {error.retry_after or 60} s."
    return "Something went wrong; please try again."
