"""Request and response bodies, with the validation every address and password gets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from regmail.accounts.addresses import MAX_ADDRESS_LENGTH, parse_address
from regmail.accounts.passwords import MAX_LENGTH, MIN_LENGTH, password_problem
from regmail.accounts.tokens import MAX_TOKEN_LENGTH

Locale = Literal["en", "zh-CN"]


def _check_address(value: str) -> str:
    parse_address(value)
    return value


def _check_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# The schema states the limits the validators enforce (so clients and fuzzers know them);
# the validators keep their own messages.
EmailAddress = Annotated[
    str,
    Field(
        examples=["ada@example.com"],
        json_schema_extra={"format": "email", "maxLength": MAX_ADDRESS_LENGTH},
    ),
    AfterValidator(_check_address),
]
Password = Annotated[
    str,
    Field(
        examples=["correct horse battery staple"],
        json_schema_extra={"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH},
    ),
    AfterValidator(_check_password),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationIn(_Strict):
    email: EmailAddress
    password: Password
    locale: Locale = "en"


class ResendIn(_Strict):
    email: EmailAddress


class ActivationIn(_Strict):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class ActivatedOut(BaseModel):
    email: str
    status: Literal["active"] = "active"
