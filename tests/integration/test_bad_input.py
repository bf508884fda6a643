"""Bad input gets a 4xx problem+json naming the field; nothing reaches a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.service import make_settings, running_service

GOOD = {"email": "ada@example.com", "password": "correct horse"}


def body(**changes: object) -> dict[str, object]:
    return {**GOOD, **changes}


CASES = [
    ("missing email", {"password": "correct horse"}, 422, "email"),
    ("missing password", {"email": "ada@example.com"}, 422, "password"),
    ("not an address", body(email="ada"), 422, "email"),
    ("CRLF header injection", body(email="ada@example.com\r\nBcc: all@evil.test"), 422, "email"),
    ("LF in local part", body(email="ada\n@example.com"), 422, "email"),
    ("local part over 64", body(email="a" * 65 + "@example.com"), 422, "email"),
    ("address over 254", body(email="a@" + "b" * 60 + "." + "c" * 200 + ".com"), 422, "email"),
    ("address over 320", body(email="a" * 400 + "@example.com"), 422, "email"),
    ("non-ASCII local part", body(email="用户@example.com"), 422, "email"),
    ("display name", body(email="Ada <ada@example.com>"), 422, "email"),
    ("CRLF in a quoted local part", body(email='"ada\r\nBcc: x"@example.com'), 422, "email"),
    ("password under 8", body(password="1234567"), 422, "password"),
    ("password over 128", body(password="x" * 129), 422, "password"),
    ("unknown locale", body(locale="fr\r\nX: y"), 422, "locale"),
    ("unknown field", body(admin=True), 422, "admin"),
    ("wrong type", body(email=["ada@example.com"]), 422, "email"),
    ("not an object", ["ada@example.com"], 422, "body"),
]


@pytest.fixture
async def service(tmp_path: Path):
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        yield svc


@pytest.mark.parametrize(("name", "payload", "status", "field"), CASES, ids=[c[0] for c in CASES])
async def test_invalid_registration_names_the_field(
    service, name: str, payload: object, status: int, field: str
) -> None:
    response = await service.client.post("/v1/registrations", json=payload)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await service.mail_rows() == []


@pytest.mark.parametrize(
    ("email", "says"),
    [
        ("用户@example.com", "Internationalized characters before the @-sign are not supported"),
        ("Ada <ada@example.com>", "display name"),
    ],
    ids=["smtputf8", "display-name"],
)
async def test_refused_addresses_say_why(service, email: str, says: str) -> None:
    response = await service.client.post("/v1/registrations", json=body(email=email))
    [error] = response.json()["errors"]
    assert error["field"] == "email" and says in error["message"]


async def test_idn_domain_is_accepted_and_mailed_in_punycode(service) -> None:
    await service.register("用户@例子.测试".replace("用户", "user"))
    [row] = await service.mail_rows()
    assert row.recipient == "user@xn--fsqu00a.xn--0zwm56d"


@pytest.mark.parametrize(
    "raw", [b'{"email": ', b"not json", b'{"email": "a@b.c", "password": "x"', b"\xff\xfe"]
)
async def test_malformed_json_is_400(service, raw: bytes) -> None:
    response = await service.client.post(
        "/v1/registrations", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "body", "message": "not valid JSON"}]


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 16_000,  # nested past the parser's limit
        b'{"email": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    ],
    ids=["unclosed", "closed"],
)
async def test_deeply_nested_json_is_400_naming_the_body(service, raw: bytes) -> None:
    response = await service.client.post(
        "/v1/registrations", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "body", "message": "not valid JSON"}]


async def test_wide_json_within_the_size_limit_is_422(service) -> None:
    members = ",".join(f'"k{i}": [1, 2, {{}}]' for i in range(700))
    raw = ("{" + members + "}").encode()
    assert len(raw) < 16 * 1024
    response = await service.client.post(
        "/v1/registrations", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"email", "password", "k0"} <= fields


async def test_oversized_body_is_413_by_declared_length(service) -> None:
    payload = json.dumps(body(password="x" * 20_000)).encode()
    response = await service.client.post(
        "/v1/registrations", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"] == [{"field": "body", "message": "too large"}]


async def test_oversized_chunked_body_is_413(service) -> None:
    async def chunks():
        for _ in range(40):
            yield b"x" * 1024

    response = await service.client.post(
        "/v1/registrations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


PASSWORD = {"password": "correct horse"}


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/v1/activations", PASSWORD, "token"),
        ("/v1/activations", {"token": "", **PASSWORD}, "token"),
        ("/v1/activations", {"token": "x" * 65, **PASSWORD}, "token"),
        ("/v1/activations", {"token": "t"}, "password"),
        ("/v1/activations", {"token": "t", "password": ""}, "password"),
        ("/v1/activations", {"token": "t", "password": "x" * 1025}, "password"),
        ("/v1/credentials/verify", {"email": "not-an-address", **PASSWORD}, "email"),
        ("/v1/credentials/verify", {"email": "a@example.com"}, "password"),
        ("/v1/credentials/verify", {"email": "a@example.com", "password": 12}, "password"),
        ("/v1/password-resets", {"email": "a@example.com\r\nBcc: b@example.com"}, "email"),
        ("/v1/password-resets", {"email": "a@example.com", "locale": "fr"}, "locale"),
        ("/v1/password-resets/complete", {"token": "t"}, "password"),
        ("/v1/password-resets/complete", {"token": "t", "password": "pw", "x": 1}, "x"),
        ("/v1/email-changes", {"email": "a@example.com", **PASSWORD}, "new_email"),
        (
            "/v1/email-changes",
            {"email": "a@example.com", "new_email": "b@", **PASSWORD},
            "new_email",
        ),
        ("/v1/email-changes/complete", {}, "token"),
        ("/v1/email-changes/complete", {"token": "x" * 65}, "token"),
    ],
)
async def test_invalid_bodies_name_the_field(service, path: str, payload: dict, field: str) -> None:
    response = await service.client.post(path, json=payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("password", "lang", "message"),
    [
        ("12345678", "en", "is one of the most common passwords; choose another"),
        ("password", "zh-CN", "是最常见的密码之一，请换一个"),
        ("short", "en", "must be at least 8 characters"),
        ("short", "zh-CN", "至少需要 8 个字符"),
        ("ada@example.com", "en", "must not be the email address"),
    ],
)
async def test_a_refused_password_says_why_in_the_requests_language(
    service, password: str, lang: str, message: str
) -> None:
    response = await service.client.post(
        "/v1/registrations",
        json={"email": "ada@example.com", "password": password, "locale": lang},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "password", "message": message}]


async def test_validation_errors_follow_accept_language(service) -> None:
    response = await service.client.post(
        "/v1/credentials/verify",
        json={"email": "nobody", "password": "x"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"].startswith("不是有效的邮箱地址")


async def test_resend_validates_the_address(service) -> None:
    response = await service.client.post(
        "/v1/activations/resend", json={"email": "x@y.z\r\nBcc: a@b.c"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


async def test_admin_api_needs_the_token(service) -> None:
    assert (await service.client.get("/v1/admin/stats")).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert (await service.client.get("/v1/admin/stats", headers=wrong)).status_code == 401
    right = {"Authorization": "Bearer 7f3c9a1e5b2d4f6081a3c5e7092b4d6f"}
    stats = await service.client.get("/v1/admin/stats", headers=right)
    assert stats.status_code == 200
    assert stats.json() == {"queued": 0, "sending": 0, "sent": 0, "retrying": 0, "dead": 0}


async def test_unknown_paths_and_methods_are_problems(service) -> None:
    missing = await service.client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await service.client.get("/v1/registrations")
    assert wrong.status_code == 405


@pytest.mark.parametrize("given", [b"a" * 65, b"has spaces", "\u00fcn".encode(), b"x;drop"])
async def test_odd_request_ids_are_replaced_not_logged(service, given: bytes) -> None:
    response = await service.client.get("/healthz", headers={"X-Request-ID": given})
    returned = response.headers["x-request-id"]
    assert returned.encode() != given and len(returned) == 32 and int(returned, 16) >= 0
