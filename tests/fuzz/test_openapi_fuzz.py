"""Schemathesis over regmail's own OpenAPI schema, against a real `regmail serve`."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.processes import start_regmail
from tests.support.service import TEST_DEFAULTS, make_settings
from tests.support.waiting import free_port, wait_for_port

ADMIN = {"Authorization": f"Bearer {TEST_DEFAULTS['admin_token']}"}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.Schema]:
    tmp = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    # Nothing delivers here: the fuzzer is after the API's answers, not the mail.
    config = make_settings(tmp, port=port, smtp_url="smtp://127.0.0.1:9", api_docs_admin=True)
    log = tmp / "serve.log"
    assert start_regmail(config, "migrate", log=log, cwd=tmp).wait(60) == 0, log.read_text()
    serve = start_regmail(config, "serve", log=log, cwd=tmp)
    try:
        wait_for_port(port, 30)
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
        # Every call carries the admin token (ADMIN); a case that "leaves it out" would not.
        schema.config.generation.update(with_security_parameters=False)
        yield schema
    finally:
        _stop(serve)
    assert "unhandled_error" not in log.read_text()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def test_every_endpoint_answers_within_its_schema(api_schema: schemathesis.Schema) -> None:
    # Schemathesis's own pytest plugin does not load under pytest 9, so the operations are
    # walked here, each one a Hypothesis run of its own.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        _fuzz(operation, GenerationMode.POSITIVE)
        raw = operation.definition.raw
        query = [p for p in raw.get("parameters", []) if p["in"] == "query"]
        if "requestBody" in raw or query:  # a free-form path or header cannot be "wrong"
            _fuzz(operation, GenerationMode.NEGATIVE)


def _fuzz(operation: Any, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        # Left out: "schema-valid data is accepted". An address at a reserved domain
        # (.test, .invalid, localhost) fits `format: email` yet cannot be mailed, and is
        # refused with a 422 naming the field, on purpose.
        case.call_and_validate(headers=ADMIN, excluded_checks=[positive_data_acceptance])

    run()


@pytest.mark.parametrize("page", ["/activate", "/reset", "/confirm-email"])
def test_the_pages_behind_mailed_links_never_fail(
    api_schema: schemathesis.Schema, page: str
) -> None:
    # The links in the mails open HTML pages, kept out of the JSON API's schema.
    base_url = api_schema.get_base_url()

    @given(token=st.text(max_size=300), lang=st.sampled_from(["en", "zh-CN", "", "fr"]))
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    def run(token: str, lang: str) -> None:
        with httpx.Client(base_url=base_url) as client:
            response = client.get(page, params={"token": token, "lang": lang})
        assert response.status_code in (200, 400, 410), response.text
        assert response.headers["content-type"].startswith("text/html")

    run()
