"""`regmail check`: is every part regmail needs there and usable? Says what is wrong."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
from sqlalchemy.engine import make_url

from regmail.brokers.base import ProbeFailed
from regmail.db.engine import create_engine
from regmail.db.migrate import schema_revisions
from regmail.mail.render import Renderer
from regmail.mail.smtp import close, connect
from regmail.mails.kinds import Kinds
from regmail.runtime import Runtime
from regmail.settings import Settings
from regmail.smtp_url import parse_smtp_url

PROBE_SECONDS = 10.0


@dataclass(frozen=True)
class Finding:
    part: str  # configuration | database | broker | smtp | templates
    ok: bool
    detail: str


async def check_all(settings: Settings) -> list[Finding]:
    """Database, broker, SMTP server and the mail templates, each on its own: one failing
    does not hide another."""
    parts: list[tuple[str, Callable[[Settings], Awaitable[str]]]] = [
        ("database", _database),
        ("broker", _broker),
        ("smtp", _smtp),
        ("templates", _templates),
    ]
    return [await _finding(name, probe, settings) for name, probe in parts]


async def _finding(
    name: str, probe: Callable[[Settings], Awaitable[str]], settings: Settings
) -> Finding:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            return Finding(name, True, await probe(settings))
    except TimeoutError:
        return Finding(name, False, f"no answer within {PROBE_SECONDS:g} s")
    except ProbeFailed as error:
        return Finding(name, False, str(error))
    except Exception as error:  # any client's failure is a finding, not a crash
        return Finding(name, False, _explain(error))


async def _database(settings: Settings) -> str:
    url = make_url(settings.database_url)
    engine = create_engine(settings)
    try:
        found, expected = await schema_revisions(engine)
    finally:
        await engine.dispose()
    where = url.render_as_string(hide_password=True)
    if found != expected:
        raise ProbeFailed(
            f"{where}: schema at revision {found or 'none'}, this version needs {expected}: "
            "run `regmail migrate`"
        )
    return f"{where}: reachable, schema up to date ({expected})"


async def _broker(settings: Settings) -> str:
    runtime = Runtime.build(settings)
    try:
        return await runtime.broker.probe()
    finally:
        await runtime.close()


async def _smtp(settings: Settings) -> str:
    target = parse_smtp_url(settings.smtp_url.get_secret_value())
    client = await connect(target, settings.smtp_timeout)
    try:
        security = (
            "TLS"
            if target.use_tls
            else "STARTTLS"
            if client.encrypted
            else "no TLS (the server offers no STARTTLS: mail crosses the network in clear)"
        )
        auth = f"AUTH as {target.username}" if target.username else "no AUTH"
        pipelining = ", PIPELINING" if client.pipelining else ""
        return f"{target.hostname}:{target.port}: connected, {security}, {auth}{pipelining}"
    finally:
        await close(client)


async def _templates(settings: Settings) -> str:
    """Every kind's templates load (REGMAIL_KINDS, REGMAIL_TEMPLATES_DIR), as a worker's do."""
    kinds = Kinds.configured(settings)
    Renderer.from_settings(kinds, settings)
    where = f", overrides from {settings.templates_dir}" if settings.templates_dir else ""
    return f"kinds {', '.join(kinds)}: every template loads{where}"


def _explain(error: BaseException) -> str:
    """The client's error, with what it usually means."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return f"the server refused the user name or password ({error.code} {error.message})"
    if isinstance(error, ssl.SSLError) or "certificate" in str(error).lower():
        return (
            f"TLS failed: {error} (a relay with a private CA needs ?ca_file=/path/ca.pem; "
            "a self-signed test server ?verify=false)"
        )
    refused = ("refused", "connect call failed", "errno 111")
    if isinstance(error, ConnectionRefusedError) or any(r in text.lower() for r in refused):
        return f"connection refused: nothing listens there ({text})"
    return text
