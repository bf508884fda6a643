"""The `regmail` command."""

from __future__ import annotations

import asyncio
import atexit
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

import regmail
from regmail import roles
from regmail.brokers.factory import relays
from regmail.check import check_all
from regmail.cli_errors import OPERATOR_ERRORS, explain, setting_problems
from regmail.clock import utcnow
from regmail.eventloop import run_event_loop
from regmail.logs import configure_logging, wants_json
from regmail.mails.kinds import NotReplayable
from regmail.mails.purge import purge_finished
from regmail.mails.replay import replay
from regmail.mails.sealing import new_key
from regmail.mails.status import DeadReason, MailStatus
from regmail.mails.suppressions import lift, list_suppressions
from regmail.mails.views import MailFilter, get_mail, list_mails, mail_ids, parse_age, parse_since
from regmail.metrics import serve_metrics
from regmail.runtime import Runtime, migrate_all
from regmail.settings import Settings
from regmail.tracing import setup_tracing, shutdown_tracing

T = TypeVar("T")

app = typer.Typer(help="Sign-up with email activation that never makes anyone wait for SMTP.")


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"regmail {regmail.__version__}")
        raise typer.Exit()


_debug = False  # --debug: errors with their tracebacks
_env_file: Path | None = None  # --env-file: settings read from there too


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version"),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error, not one line")
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            exists=True,
            dir_okay=False,
            help="Read REGMAIL_* settings from this KEY=VALUE file too (a systemd "
            "EnvironmentFile; the environment wins). Default: ./.env",
        ),
    ] = None,
) -> None:
    """Sign-up with email activation that never makes anyone wait for SMTP."""
    global _debug, _env_file
    _debug, _env_file = debug, env_file


def _load_settings(**overrides: Any) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    if _env_file is not None:
        return Settings(_env_file=_env_file, **given)  # type: ignore[call-arg]  # pydantic-settings reads it
    return Settings(**given)


messages_app = typer.Typer(help="Inspect and replay mails.")
app.add_typer(messages_app, name="messages")
suppressions_app = typer.Typer(help="Addresses that hard-bounced and get no more mail.")
app.add_typer(suppressions_app, name="suppressions")


def _settings(role: str = "cli", **overrides: Any) -> Settings:
    settings = _load_settings(**overrides)
    configure_logging(settings.log_level, wants_json(settings.log_json, settings.dev_mode))
    setup_tracing(settings.otlp_endpoint, role)
    atexit.register(shutdown_tracing)  # flushes spans when the command ends normally
    return settings


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)`; SIGINT or SIGTERM sets `stop` so it can finish in-flight work."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    run_event_loop(runner())


def _serve_metrics(settings: Settings) -> None:
    if settings.metrics_port:
        serve_metrics(settings.host, settings.metrics_port)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic), and the broker's queues or topics."""
    asyncio.run(migrate_all(_settings()))
    typer.echo("database schema is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port")] = None,
) -> None:
    """Run the HTTP API (one process; run several behind a load balancer to scale)."""
    roles.serve(_settings("api", host=host, port=port))


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Mails in flight at once")] = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option(
            "--kinds",
            help="Your kinds of mail, as package.module:NAME (repeatable); instead of "
            "REGMAIL_KINDS. regmail's own kinds are always there.",
        ),
    ] = None,
) -> None:
    """Deliver queued mail until SIGINT/SIGTERM (in-flight sends finish first)."""
    settings = _settings("worker", worker_concurrency=concurrency, kinds=kinds or None)
    _serve_metrics(settings)
    _run_until_signal(lambda stop: roles.process(settings, {roles.Role.WORKER}, stop))


@app.command()
def relay(
    concurrency: Annotated[int | None, typer.Option(help="Messages published at once")] = None,
) -> None:
    """Relay the outbox to the broker until SIGINT/SIGTERM (RabbitMQ; not needed for `db`)."""
    settings = _settings("relay", relay_concurrency=concurrency)
    if not relays(settings):
        typer.echo("REGMAIL_BROKER_URL=db: the outbox is the queue, nothing to relay")
        return
    _serve_metrics(settings)
    _run_until_signal(lambda stop: roles.process(settings, {roles.Role.RELAY}, stop))


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    sink_port: Annotated[int, typer.Option(help="Port of the built-in SMTP sink")] = 8025,
) -> None:
    """API + one worker + built-in SMTP sink + mailbox, on 127.0.0.1, in one process."""
    settings = _settings(
        host="127.0.0.1",
        port=port,
        dev_mode=True,
        dev_sink_port=sink_port,
        smtp_url=f"smtp://127.0.0.1:{sink_port}",
        public_url=f"http://127.0.0.1:{port}",
    )
    try:
        run_event_loop(roles.dev(settings, typer.echo))
    except OSError as error:
        typer.echo(f"regmail dev could not start: {error}", err=True)
        raise typer.Exit(1) from None


def _since_option(value: str | None) -> datetime | None:
    try:
        return None if value is None else parse_since(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--since") from None


Since = Annotated[
    str | None, typer.Option(help="Changed since: an age (2h, 7d) or an ISO 8601 time")
]
Recipient = Annotated[str | None, typer.Option(help="Only mails to this address")]
Reason = Annotated[DeadReason | None, typer.Option(help="Only dead mails with this reason")]


@messages_app.command("list")
def messages_list(
    status: Annotated[MailStatus | None, typer.Option(help="Only mails in this state")] = None,
    recipient: Recipient = None,
    reason: Reason = None,
    since: Since = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line")] = False,
) -> None:
    """List mails, most recently changed first."""
    which = MailFilter(status, recipient, reason, _since_option(since))
    views = _with_runtime(lambda rt: list_mails(rt.engine, which, limit))
    for view in views:
        if as_json:
            typer.echo(json.dumps(view.as_json(), ensure_ascii=False))
        else:
            typer.echo(
                f"{view.id}  {view.status:<8} {view.attempts:>2}x  {view.kind:<18} "
                f"{view.recipient}  {view.dead_reason or ''} {view.last_reply or ''}".rstrip()
            )


@messages_app.command("retry-dead")
def messages_retry_dead(
    since: Since = None, reason: Reason = None, recipient: Recipient = None
) -> None:
    """Replay every dead mail that matches (e.g. after a provider outage: --since 2h)."""
    which = MailFilter(MailStatus.DEAD, recipient, reason, _since_option(since))

    async def replay_all(runtime: Runtime) -> tuple[int, int]:
        replayed = skipped = 0
        ids = await mail_ids(runtime.engine, which)
        with typer.progressbar(ids, label="replaying", file=sys.stderr) as bar:
            for mail_id in bar:
                try:
                    await replay(runtime.engine, runtime.queue, runtime.settings, mail_id)
                    replayed += 1
                except (LookupError, NotReplayable):  # purged, or its account is active
                    skipped += 1
        return replayed, skipped

    replayed, skipped = _with_runtime(replay_all)
    typer.echo(f"{replayed} replayed, {skipped} skipped (no longer dead or not needed)")


@messages_app.command("purge-sent")
def messages_purge_sent(
    older_than: Annotated[str, typer.Option(help="Last changed longer ago than this (7d)")],
) -> None:
    """Delete sent mails last changed longer ago than --older-than (retention does this
    hourly after REGMAIL_MAIL_RETENTION_DAYS)."""
    try:
        before = utcnow() - parse_age(older_than)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--older-than") from None

    async def purge(runtime: Runtime) -> int:
        count = len(await mail_ids(runtime.engine, MailFilter(MailStatus.SENT)))
        with typer.progressbar(length=count, label="purging", file=sys.stderr) as bar:
            return await purge_finished(runtime.engine, before, {MailStatus.SENT}, bar.update)

    typer.echo(f"{_with_runtime(purge)} sent mails purged")


@messages_app.command("show")
def messages_show(mail_id: str) -> None:
    """Show one mail's delivery state as JSON."""
    view = _with_runtime(lambda rt: get_mail(rt.engine, mail_id))
    if view is None:
        typer.echo(f"no mail {mail_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(view.as_json(), indent=2, ensure_ascii=False))


@messages_app.command("retry")
def messages_retry(mail_id: str) -> None:
    """Replay a dead or retrying mail now, with a fresh retry budget."""
    try:
        view = _with_runtime(lambda rt: replay(rt.engine, rt.queue, rt.settings, mail_id))
    except LookupError:
        typer.echo(f"no mail {mail_id}", err=True)
        raise typer.Exit(1) from None
    except NotReplayable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{view.id} queued again")


@suppressions_app.command("list")
def suppressions_list() -> None:
    """List suppressed addresses, newest first, with the reply that suppressed them."""
    for s in _with_runtime(lambda rt: list_suppressions(rt.engine)):
        typer.echo(f"{s.address}  {s.created_at:%Y-%m-%d %H:%M}  {s.reason}")


@suppressions_app.command("lift")
def suppressions_lift(address: str) -> None:
    """Let mail go to ADDRESS again (a sign-up or resend sends the next one)."""
    if not _with_runtime(lambda rt: lift(rt.engine, address)):
        typer.echo(f"{address} is not suppressed", err=True)
        raise typer.Exit(1)
    typer.echo(f"{address} lifted")


@app.command()
def check() -> None:
    """Check the configuration, the database, the broker and the SMTP server (connect,
    TLS, AUTH); print what is wrong with each. Exit status 1 if anything is."""
    try:
        settings = _load_settings()
    except ValidationError as error:
        for problem in setting_problems(error):
            typer.echo(f"FAIL configuration  {problem}")
        raise typer.Exit(1) from None
    configure_logging("error", wants_json(settings.log_json))  # the findings are the output
    typer.echo("ok   configuration")
    findings = asyncio.run(check_all(settings))
    for finding in findings:
        typer.echo(f"{'ok  ' if finding.ok else 'FAIL'} {finding.part:<14} {finding.detail}")
    if not all(f.ok for f in findings):
        raise typer.Exit(1)


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for REGMAIL_SECRET_KEY (32 random bytes, base64url)."""
    typer.echo(new_key())


CONFIG_PREAMBLE = """# Configuration

Every setting is an environment variable (a `.env` file in the working directory is read
too). This page is generated: `regmail config-reference > docs/configuration.md`.
"""


@app.command("config-reference")
def config_reference() -> None:
    """Print every setting as Markdown (docs/configuration.md is exactly this output)."""
    typer.echo(CONFIG_PREAMBLE)
    typer.echo("| variable | default | meaning |\n| --- | --- | --- |")
    for name, field in Settings.model_fields.items():
        default = field.default
        if hasattr(default, "get_secret_value"):
            default = default.get_secret_value()
        shown = "" if default is None else f"`{default}`"
        typer.echo(f"| `REGMAIL_{name.upper()}` | {shown} | {field.description or ''} |")


def _with_runtime(action: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = _settings(log_json=False)

    async def main() -> T:
        runtime = Runtime.build(settings)
        try:
            return await action(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def main() -> None:
    """The `regmail` command. What an operator must fix (a setting, a server that cannot be
    reached, an extra not installed) is one line each and exit status 2; `--debug` shows
    the traceback instead."""
    try:
        app()
    except OPERATOR_ERRORS as error:
        if _debug:
            raise
        for line in explain(error):
            typer.echo(f"regmail: {line}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
