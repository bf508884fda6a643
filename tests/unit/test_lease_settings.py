"""A claimed mail's lease must outlast the longest wait of one send: a send still waiting on
its server when the lease runs out is claimed and made again by another worker."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from regmail.settings import Settings
from tests.support.service import TEST_DEFAULTS

WEBHOOK = {"webhook_url": "https://app.example.com/hooks", "webhook_secret": "whsec_" + "A" * 32}


def _settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **{**TEST_DEFAULTS, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"lease_seconds": 30, "smtp_timeout": 30}, "REGMAIL_SMTP_TIMEOUT (30)"),
        ({"lease_seconds": 20, "smtp_timeout": 30}, "REGMAIL_SMTP_TIMEOUT (30)"),
        ({"lease_seconds": 8, "webhook_timeout": 10, **WEBHOOK}, "REGMAIL_WEBHOOK_TIMEOUT (10)"),
    ],
)
def test_a_lease_not_longer_than_a_wait_is_refused(
    overrides: dict[str, object], names: str
) -> None:
    with pytest.raises(
        ValidationError,
        match=rf"REGMAIL_LEASE_SECONDS \(\d+\) must be longer than {re.escape(names)}",
    ):
        _settings(**overrides)


def test_a_lease_longer_than_every_wait_is_accepted() -> None:
    assert _settings(lease_seconds=31, smtp_timeout=30).lease_seconds == 31
    assert _settings(lease_seconds=11, webhook_timeout=10, **WEBHOOK).lease_seconds == 11


def test_the_webhook_timeout_counts_only_with_a_webhook() -> None:
    assert _settings(lease_seconds=3, smtp_timeout=2, webhook_timeout=10).lease_seconds == 3
