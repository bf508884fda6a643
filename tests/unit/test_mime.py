"""The hand-written wire form parses cleanly with the stdlib email package."""

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import strict

import pytest

from regmail.mail.mime import alternative, encode_header_text

HEADERS = [("From", "a@example.com"), ("To", "b@example.com"), ("Message-ID", "<1@example.com>")]


@pytest.mark.parametrize("text", ["plain ascii", "激活您的账户 " * 40, "line\nbreaks\n\n", ""])
def test_parts_round_trip_through_the_email_parser(text: str) -> None:
    html = f"<p>{text}</p>"
    subject = "激活您的账户 " * 5
    data = alternative([*HEADERS, ("Subject", encode_header_text("Subject", subject))], text, html)
    message = message_from_bytes(data, policy=strict)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == subject
    assert message["Message-ID"] == "<1@example.com>"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content() == text and rich.get_content() == html
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_boundaries_differ_between_messages() -> None:
    assert alternative(HEADERS, "x", "y") != alternative(HEADERS, "x", "y")


@pytest.mark.parametrize("value", ["x\r\nBcc: eve@example.com", "x\ny", "x\r\n\r\nbody", "ünïcode"])
def test_header_values_with_line_breaks_or_raw_unicode_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        alternative([("To", value)], "x", "y")
