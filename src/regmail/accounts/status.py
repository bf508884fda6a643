"""The states an account can be in: stored, and part of the API's answers (a leaf module, so a
client can name them without the database layer)."""

from __future__ import annotations

from enum import StrEnum


class AccountStatus(StrEnum):
    PENDING = "pending"  # signed up, not yet activated
    ACTIVE = "active"
