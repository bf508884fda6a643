"""What the API answers, and the locales it speaks: light models (pydantic and two enums, no
database layer) that regmail.client shares with the server."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from regmail.accounts.status import AccountStatus
from regmail.mails.status import MailStatus

Locale = Literal["en", "zh-CN"]


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class ActivatedOut(BaseModel):
    """The account after a step that needed its mailed link (activation, reset, address
    change): active, with the address it signs in with."""

    account_id: str
    email: str
    status: Literal["active"] = "active"


class VerifiedOut(BaseModel):
    account_id: str
    email: str
    status: AccountStatus


class AccountOut(BaseModel):
    id: str
    email: str
    status: AccountStatus
    locale: str
    created_at: datetime
    activated_at: datetime | None
    failed_sign_ins: int


class MailOut(BaseModel):
    """A mail's (or an event's) delivery state; never its content."""

    id: str
    kind: str
    recipient: str = Field(description="an address; for an event, its destination")
    locale: str
    status: MailStatus
    attempts: int
    last_reply: str | None = Field(description="the receiver's last answer")
    dead_reason: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    expires_at: datetime | None


class SuppressionOut(BaseModel):
    address: str
    reason: str = Field(description="the bounce that suppressed it")
    mail_id: str | None
    created_at: datetime
