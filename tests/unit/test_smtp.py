import aiosmtplib
import pytest

from regmail.mail.replies import classify
from regmail.smtp_url import parse_smtp_url


def test_qq_mail_url() -> None:
    target = parse_smtp_url("smtps://12345%40qq.com:authcode@smtp.qq.com:465")
    assert (target.hostname, target.port, target.use_tls, target.start_tls) == (
        "smtp.qq.com",
        465,
        True,
        False,
    )
    assert (target.username, target.password) == ("12345@qq.com", "authcode")
    assert "authcode" not in repr(target)


def test_starttls_whenever_offered_unless_the_url_requires_or_refuses_it() -> None:
    assert parse_smtp_url("smtp://u:p@smtp.gmail.com:587").start_tls is None
    assert parse_smtp_url("smtp://127.0.0.1:25").start_tls is None
    assert parse_smtp_url("smtp://u:p@host:2525?starttls=true").start_tls is True
    assert parse_smtp_url("smtp://u:p@host:587?starttls=false").start_tls is False
    assert parse_smtp_url("smtp://host?starttls=true").port == 587


def test_private_ca_and_clear_text_auth_are_asked_for_by_name() -> None:
    target = parse_smtp_url("smtp://u:p@relay:25?ca_file=/etc/ssl/relay-ca.pem")
    assert (target.ca_file, target.insecure, target.validate_certs) == (
        "/etc/ssl/relay-ca.pem",
        False,
        True,
    )
    assert parse_smtp_url("smtp://u:p@relay:25?insecure=true").insecure


def test_a_password_with_a_slash_gets_advice_not_an_echo() -> None:
    with pytest.raises(ValueError) as refused:
        parse_smtp_url("smtp://user:SECRET/part@host:587")
    assert "percent-encoded" in str(refused.value)
    assert "SECRET" not in str(refused.value) and "part" not in str(refused.value)


@pytest.mark.parametrize("url", ["http://host", "smtp://", "host:25"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="REGMAIL_SMTP_URL"):
        parse_smtp_url(url)


@pytest.mark.parametrize(
    ("error", "kind", "reply"),
    [
        (aiosmtplib.SMTPDataError(450, "4.3.0 try later"), "transient", "450 4.3.0 try later"),
        (aiosmtplib.SMTPDataError(554, "5.7.1 spam"), "permanent", "554 5.7.1 spam"),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "x@y.z")]
            ),
            "permanent",
            "550 5.1.1 no such user",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(451, "4.7.1 greylisted", "x@y.z")]
            ),
            "transient",
            "451 4.7.1 greylisted",
        ),
        (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"), "permanent", None),
        (aiosmtplib.SMTPServerDisconnected("Unexpected EOF"), "transient", None),
        (aiosmtplib.SMTPConnectError("refused"), "transient", None),
        (aiosmtplib.SMTPReadTimeoutError("timed out"), "transient", None),
        (ConnectionResetError("reset"), "transient", None),
    ],
)
def test_classification(error: Exception, kind: str, reply: str | None) -> None:
    failure = classify(error)
    assert failure.kind == kind
    if reply is not None:
        assert failure.reply == reply


def test_programming_errors_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        classify(KeyError("bug"))
