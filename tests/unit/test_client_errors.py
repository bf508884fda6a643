"""How regmail.client reads an error answer, including ones no regmail process wrote."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from regmail.client import RegmailError, ServiceUnavailable, TokenGone, ValidationFailed
from regmail.client.errors import error_of

PROBLEM = {"content-type": "application/problem+json"}


def test_a_problem_keeps_its_fields_and_headers() -> None:
    body = {"type": "/problems/token-expired", "title": "Token expired", "status": 410}
    error = error_of(httpx.Response(410, json={**body, "code": "expired"}, headers=PROBLEM))
    assert isinstance(error, TokenGone)
    assert (error.status, error.code, error.title) == (410, "expired", "Token expired")


def test_retry_after_and_request_id_are_read() -> None:
    headers = {"retry-after": "5", "x-request-id": "abc"}
    error = error_of(httpx.Response(503, json={"title": "Service unavailable"}, headers=headers))
    assert isinstance(error, ServiceUnavailable)
    assert (error.retry_after, error.request_id) == (5, "abc")


@pytest.mark.parametrize(
    ("status", "kind"), [(413, ValidationFailed), (502, RegmailError), (418, RegmailError)]
)
def test_an_answer_that_is_not_a_problem_still_raises(status: int, kind: type) -> None:
    error = error_of(httpx.Response(status, text="<html>bad gateway</html>"))
    assert type(error) is kind and error.status == status
    assert error.errors == [] and error.retry_after is None


def test_the_client_needs_none_of_the_servers_dependencies() -> None:
    script = (
        "import json, sys, regmail.client; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    server_only = {"sqlalchemy", "argon2", "fastapi", "starlette", "jinja2", "aio_pika"}
    assert server_only.isdisjoint(json.loads(loaded.stdout)), loaded.stdout
