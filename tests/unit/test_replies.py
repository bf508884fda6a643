from __future__ import annotations

import pytest

from regmail.mail.replies import is_hard_bounce


@pytest.mark.parametrize(
    ("reply", "hard"),
    [
        ("550 5.1.1 <ghost@example.com>: Recipient address rejected: User unknown", True),
        ("550-5.1.1 The email account that you tried to reach does not exist.", True),
        ("553 5.1.3 Bad recipient address syntax", True),
        ("550 User unknown", True),  # no enhanced code, but it says so
        ("550 5.7.1 Message rejected as spam", False),  # policy: the address is fine
        ("554 5.7.1 Relay access denied", False),
        ("552 5.2.2 Mailbox full", False),
        ("500 5.3.0 Error: command failed", False),
        ("550 Administrative prohibition", False),
    ],
)
def test_only_a_missing_mailbox_is_a_hard_bounce(reply: str, hard: bool) -> None:
    assert is_hard_bounce(reply) is hard
