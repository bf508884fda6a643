"""Errors as RFC 9457 problem details (application/problem+json), never a bare 500."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from regmail.accounts.passwords import PasswordRefused
from regmail.api.messages import language, localized, refusal
from regmail.db.engine import DATABASE_ERRORS

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


# What any JSON-body operation can answer besides its own: for the OpenAPI document.
BODY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON"},
    413: {"description": "Body too large"},
    422: {"description": "A field is invalid; `errors` names it"},
    503: {"description": "Database unavailable; retry"},
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extra = extra or {}
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM, headers=self.headers)


def field_errors(errors: list[dict[str, str]]) -> Problem:
    """422 naming each offending field: {"errors": [{"field": "email", "message": ...}]}."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(
        422, "Invalid request", detail, type_="/problems/validation", extra={"errors": errors}
    )


def _malformed_json(detail: str) -> Problem:
    return Problem(
        400,
        "Malformed JSON",
        detail,
        type_="/problems/malformed-json",
        extra={"errors": [{"field": "body", "message": "not valid JSON"}]},
    )


def _validation_problem(error: RequestValidationError, lang: str) -> Problem:
    errors = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            return _malformed_json("the request body is not valid JSON")
        loc = [str(part) for part in item.get("loc", ()) if part not in ("body", "query")]
        english = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        message = localized(str(item.get("type", "")), lang, english) or english
        errors.append({"field": ".".join(loc) or "body", "message": message})
    return field_errors(errors)


def password_refused(refused: PasswordRefused, lang: str, field: str = "password") -> Problem:
    """422 naming the field and the reason, in the request's language."""
    message = refusal(refused, lang)
    return field_errors([{"field": field, "message": message}])


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(_: Request, problem: Problem) -> JSONResponse:
        return problem.response()

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        body = error.body if isinstance(error.body, dict) else {}
        return _validation_problem(error, language(request, body.get("locale"))).response()

    @app.exception_handler(HTTPException)
    async def on_http(_: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 400:
            # FastAPI's own answer when the JSON parser gives up (nesting past its limit).
            return _malformed_json("the request body could not be parsed").response()
        headers = dict(error.headers) if error.headers else None
        return Problem(error.status_code, str(error.detail), headers=headers).response()

    async def on_database(_: Request, error: Exception) -> JSONResponse:
        # The database is down, locked or full: a clean, retryable answer, not a 500.
        # The driver's own message ("database or disk is full", "connection refused"), not
        # SQLAlchemy's, which would carry the statement's parameters.
        reason = str(getattr(error, "orig", None) or error)[:200]
        log.warning("database_unavailable", error=type(error).__name__, reason=reason)
        return Problem(
            503,
            "Service unavailable",
            "the database is not reachable; try again shortly",
            headers={"Retry-After": "5"},
        ).response()

    for error_type in DATABASE_ERRORS:  # SQLAlchemy's, the driver's, OS-level
        app.add_exception_handler(error_type, on_database)

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled_error")
        return Problem(500, "Internal error").response()


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what every 4xx/5xx answer really is: problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for path in schema["paths"].values():
                for operation in path.values():
                    for code, response in operation.get("responses", {}).items():
                        if code[0] in "45":
                            response["content"] = {PROBLEM: {"schema": PROBLEM_SCHEMA}}
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
