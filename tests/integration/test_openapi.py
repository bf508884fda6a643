"""The OpenAPI document a client is generated from: stable operationIds, the admin routes
under a bearer scheme with typed answers, and Swagger UI served by regmail itself."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.service import make_settings, running_service

OPERATIONS = {
    "register",
    "resend_activation",
    "activate",
    "verify_credentials",
    "request_password_reset",
    "complete_password_reset",
    "request_email_change",
    "complete_email_change",
    "list_messages",
    "get_message",
    "retry_message",
    "mail_stats",
    "list_suppressions",
    "lift_suppression",
    "find_accounts",
    "get_account",
    "delete_account",
}


async def test_the_public_schema_leaves_the_admin_api_out(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        spec = (await svc.client.get("/openapi.json")).json()
        docs = (await svc.client.get("/docs")).text
    assert not [path for path in spec["paths"] if path.startswith("/v1/admin")]
    assert "adminToken" not in str(spec) and "admin" not in docs.lower()


async def test_operations_have_stable_ids_and_admin_needs_the_bearer(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path, api_docs_admin=True)) as svc:
        spec = (await svc.client.get("/openapi.json")).json()
    operations = {
        (path, method): op
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    }
    ids = {op["operationId"] for op in operations.values()}
    assert ids >= OPERATIONS
    assert not [i for i in ids if re.search(r"_v1_|_(get|post|delete)$", i)]  # none generated
    scheme = spec["components"]["securitySchemes"]["adminToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for (path, _), op in operations.items():
        secured = op.get("security") == [{"adminToken": []}]
        assert secured == path.startswith("/v1/admin/"), path
        if secured:  # typed answers, not a bare object
            [status] = [s for s in op["responses"] if s.startswith("2")]
            if status == "204":
                continue
            ok = op["responses"][status]["content"]["application/json"]["schema"]
            typed = ok.get("items", ok.get("additionalProperties", ok))
            assert "$ref" in typed or typed.get("type") == "integer", (path, ok)


async def test_swagger_ui_comes_from_regmail_not_a_cdn(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path)) as svc:
        page = (await svc.client.get("/docs")).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
        for asset in assets:
            assert (await svc.client.get(asset)).status_code == 200, asset


async def test_docs_can_be_switched_off(tmp_path: Path) -> None:
    async with running_service(make_settings(tmp_path, api_docs=False)) as svc:
        for path in ("/docs", "/openapi.json", "/docs/assets/swagger-ui.css"):
            assert (await svc.client.get(path)).status_code == 404, path
