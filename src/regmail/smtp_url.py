"""Where mail goes: REGMAIL_SMTP_URL read into an SmtpTarget (standard library only, so the
settings can check it as they load)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: whenever the server offers it
    validate_certs: bool
    ca_file: str | None = None
    insecure: bool = False  # AUTH allowed over a connection TLS does not protect

    def __repr__(self) -> str:  # keeps the password out of logs and tracebacks
        t = self
        return f"SmtpTarget({t.hostname}:{t.port}, tls={t.use_tls}, starttls={t.start_tls})"


URL_SHAPE = "REGMAIL_SMTP_URL must look like smtp://host:port or smtps://host:port"


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://user:pass@host:587`, `smtps://user:pass@host:465`.

    smtp:// upgrades with STARTTLS whenever the server offers it; `?starttls=true` requires
    it, `?starttls=false` never asks. AUTH is only sent over TLS unless `?insecure=true`.
    `?ca_file=/path.pem` trusts a private CA (an internal relay); `?verify=false` accepts
    any certificate (test servers only). Errors never repeat the URL (it holds a password).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(URL_SHAPE)
    try:
        explicit_port = parts.port
    except ValueError:
        raise ValueError(
            f"{URL_SHAPE}; its port is not a number (a password with / : @ or # in it "
            "must be percent-encoded: / is %2F)"
        ) from None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    use_tls = parts.scheme == "smtps"
    starttls = query.get("starttls", "").lower()
    port = explicit_port or (465 if use_tls else 587 if starttls in TRUE_WORDS else 25)
    return SmtpTarget(
        hostname=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=False if use_tls else (starttls in TRUE_WORDS if starttls else None),
        validate_certs=query.get("verify", "true").lower() in TRUE_WORDS,
        ca_file=query.get("ca_file"),
        insecure=query.get("insecure", "false").lower() in TRUE_WORDS,
    )
