"""Request and response bodies. Addresses are checked here; a new password's policy needs
the account's address and the settings, so the flows check it (accounts/passwords.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from regmail.accounts.addresses import MAX_ADDRESS_LENGTH, parse_address
from regmail.accounts.passwords import MAX_INPUT_LENGTH
from regmail.accounts.tokens import MAX_TOKEN_LENGTH
from regmail.api.results import Locale


def _check_address(value: str) -> str:
    try:
        parse_address(value)
    except ValueError as error:
        raise PydanticCustomError("email_invalid", "{detail}", {"detail": str(error)}) from None
    return value


# The schema states the limits the validators enforce (so clients and fuzzers know them).
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
        min_length=1,
        max_length=MAX_INPUT_LENGTH,
        examples=["correct horse battery staple"],
        json_schema_extra={"format": "password"},
    ),
]
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationIn(_Strict):
    email: EmailAddress
    password: Password = Field(description="8 to 128 characters by default; not a common one")
    locale: Locale = "en"


class ResendIn(_Strict):
    email: EmailAddress
    locale: Locale | None = None


class ActivationIn(_Strict):
    token: Token
    password: Password = Field(description="the password chosen when signing up")


class CredentialsIn(_Strict):
    email: EmailAddress
    password: Password


class PasswordResetIn(_Strict):
    email: EmailAddress
    locale: Locale | None = None


class PasswordResetCompleteIn(_Strict):
    token: Token
    password: Password = Field(description="the new password")


class EmailChangeIn(_Strict):
    email: EmailAddress
    password: Password
    new_email: EmailAddress


class EmailChangeCompleteIn(_Strict):
    token: Token
