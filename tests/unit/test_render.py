from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from regmail.mail.render import MailToRender, Renderer
from regmail.mails.kinds import BUILTIN_KINDS, Kinds, Site

EXPIRES = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
KINDS = Kinds.load(*BUILTIN_KINDS)
SITE = Site("https://app.example.com/", "Example")
renderer = Renderer(KINDS, "Example <no-reply@example.com>", SITE)


def mail(kind: str = "activation", locale: str = "en", recipient: str = "ada@example.com"):
    payload = {"token": "tok&en<x>"} if kind == "activation" else {}
    return MailToRender("mail-1", kind, recipient, locale, payload, EXPIRES)


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(
    ("locale", "subject", "phrase"),
    [("en", "Activate your account", "activate the account"), ("zh-CN", "激活您的账户", "激活")],
)
def test_activation_in_both_locales_text_and_html(locale: str, subject: str, phrase: str) -> None:
    rendered = renderer.render(mail(locale=locale))
    link = f"https://app.example.com/activate?token=tok%26en%3Cx%3E&amp;lang={locale}"
    message = parse(rendered.data)
    assert message["Subject"] == subject
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert link.replace("&amp;", "&") in text and phrase in text
    assert f'href="{link}"' in html  # autoescaped for HTML, the same URL once parsed
    assert "2026-01-02 03:04" in text
    assert f'lang="{locale}"' in html


def test_html_is_autoescaped() -> None:
    rendered = renderer.render(mail(recipient="<script>@example.com"))
    assert "<script>@" not in rendered.html
    assert "&lt;script&gt;@example.com" in rendered.html


def test_message_id_is_stable_and_derived_from_the_mail_id() -> None:
    first = renderer.render(mail())
    second = renderer.render(mail())
    assert first.message_id == second.message_id == "<mail-1@example.com>"
    assert parse(first.data)["Message-ID"] == "<mail-1@example.com>"


def test_headers_and_envelope() -> None:
    rendered = renderer.render(mail())
    message = parse(rendered.data)
    assert rendered.sender == "no-reply@example.com"
    assert rendered.recipient == "ada@example.com"
    assert message["From"] == "Example <no-reply@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert b"\r\n" in rendered.data and b"\n\n" not in rendered.data.replace(b"\r\n", b"")


def test_the_date_header_is_now_in_local_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    date = parse(renderer.render(mail()).data)["Date"].datetime
    assert before <= date <= datetime.now(UTC)
    assert date.utcoffset() == datetime.now().astimezone().utcoffset()


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_already_registered_mail(locale: str) -> None:
    rendered = renderer.render(mail("already_registered", locale))
    assert "ada@example.com" in rendered.text
    assert "activate?token" not in rendered.text


def test_unknown_locale_falls_back_to_english() -> None:
    assert renderer.render(mail(locale="fr")).subject == "Activate your account"


def test_mail_from_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="MAIL_FROM"):
        Renderer(KINDS, "nobody", SITE)


@pytest.mark.parametrize("recipient", ["ada@example.com\r\nBcc: eve@example.com", "a@b.c\nX: y"])
def test_a_line_break_in_the_recipient_is_refused_not_sent_as_a_header(recipient: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        renderer.render(mail(recipient=recipient))


def test_non_ascii_display_name_in_mail_from_is_encoded() -> None:
    rendered = Renderer(KINDS, "注册服务 <no-reply@example.com>", SITE).render(mail())
    assert rendered.data.isascii()
    assert parse(rendered.data)["From"] == "注册服务 <no-reply@example.com>"
