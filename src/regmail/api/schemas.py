"""Request and response bodies, with the validation every address and password gets."""

from __future__ import annotations

from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from regmail.accounts.passwords import password_problem
from regmail.accounts.service import Address
from regmail.accounts.tokens import MAX_TOKEN_LENGTH

Locale = Literal["en", "zh-CN"]
MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit less the angle brackets


def parse_address(value: str) -> Address:
    """Validate syntax (RFC 5321 lengths, IDN domains), no DNS: raise ValueError if bad."""
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"must be at most {MAX_ADDRESS_LENGTH} characters")
    try:
        # SMTPUTF8 (non-ASCII local parts) is refused: many providers cannot deliver it.
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return Address(display=result.normalized, ascii=result.ascii_email or result.normalized)


def _check_address(value: str) -> str:
    parse_address(value)
    return value


def _check_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


EmailAddress = Annotated[
    str, Field(max_length=320, examples=["ada@example.com"]), AfterValidator(_check_address)
]
Password = Annotated[
    str, Field(examples=["correct horse battery staple"]), AfterValidator(_check_password)
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
