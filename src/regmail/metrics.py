"""Prometheus metrics, defined once for every regmail process.

With PROMETHEUS_MULTIPROC_DIR set (the prometheus_client convention; an empty directory,
cleared at each start, shared by the regmail processes of one host), each process writes
its own values there and any /metrics shows them summed over the processes: correct with
several API processes, and the API's /metrics shows the workers' and relays' figures too.
"""

from __future__ import annotations

import atexit
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from regmail.mails.status import DeadReason, MailStatus

if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
    # prometheus_client writes there as the first metric is defined: a directory that is
    # not there yet (after a reboot cleared /run) would stop every command at import.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)

SIGNUPS = Counter(
    "regmail_signups_total",
    "Sign-up requests (API and form) by outcome: accepted, invalid, limited, unavailable",
    ["outcome"],
)
REQUEST_SECONDS = Histogram(
    "regmail_http_request_duration_seconds",
    "HTTP request latency by route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ACTIVATIONS = Counter("regmail_activations_total", "Activation attempts by outcome", ["outcome"])
SIGN_IN_CHECKS = Counter(
    "regmail_sign_in_checks_total",
    "Sign-in checks by outcome: verified, invalid, not_activated, locked, throttled",
    ["outcome"],
)
ACCOUNT_CHANGES = Counter(
    "regmail_account_changes_total",
    "Changes made to accounts: password_reset, email_changed, deleted, purged",
    ["change"],
)
MAILS = Counter(
    "regmail_mails_total", "Delivery attempts by outcome: sent, retrying, dead", ["outcome"]
)
DEAD = Counter("regmail_mails_dead_total", "Mails given up, by dead reason", ["reason"])
PUBLISHED = Counter("regmail_relay_published_total", "Outbox rows the relay published")
HANDLER_FAILURES = Counter(
    "regmail_handler_failures_total",
    "Messages whose handling (handler) or settling (settle) raised; each is parked for "
    "REGMAIL_HANDLER_FAILED_DELAY_SECONDS",
    ["stage"],
)
SMTP_SECONDS = Histogram("regmail_smtp_send_seconds", "Time of one SMTP transaction")
SMTP_CONNECTIONS = Gauge(
    "regmail_smtp_connections", "SMTP connections open", multiprocess_mode="livesum"
)
SMTP_PAUSED = Gauge(
    "regmail_smtp_paused",
    "1 while delivery is paused because the SMTP provider fails (connect, TLS, AUTH)",
    multiprocess_mode="livemax",
)
DESTINATION_PAUSED = Gauge(
    "regmail_destination_paused",
    "1 while deliveries to an event destination (webhook endpoint, event broker) are paused "
    "because it fails (refused connection, timeout)",
    ["destination"],
    multiprocess_mode="livemax",
)
OUTBOX_DEPTH = Gauge(
    "regmail_outbox_depth",
    "Outbox rows waiting (to be relayed, or with broker=db to be delivered), read at scrape",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "regmail_outbox_oldest_age_seconds",
    "Age of the oldest waiting outbox row: the relay's lag, or with broker=db the queue's",
    multiprocess_mode="mostrecent",
)
BROKER_BACKLOG = Gauge(
    "regmail_broker_backlog_messages",
    "Messages waiting in the broker: RabbitMQ queue depth (a message carries up to 8 "
    "mails), Kafka consumer-group lag",
    multiprocess_mode="mostrecent",
)


# Every known outcome is exported from the start, at 0: a series that first appears
# already counted hides that first increase from rate() and increase().
KNOWN_LABELS: tuple[tuple[Counter, tuple[str, ...]], ...] = (
    (SIGNUPS, ("accepted", "invalid", "limited", "unavailable")),
    (ACTIVATIONS, ("activated", "wrong_password", "invalid", "used", "expired")),
    (SIGN_IN_CHECKS, ("verified", "invalid", "not_activated", "locked", "throttled")),
    (ACCOUNT_CHANGES, ("password_reset", "email_changed", "deleted", "purged")),
    (MAILS, (MailStatus.SENT, MailStatus.RETRYING, MailStatus.DEAD)),
    (DEAD, tuple(DeadReason)),
    (HANDLER_FAILURES, ("handler", "settle")),
)
for _counter, _values in KNOWN_LABELS:
    for _value in _values:
        _counter.labels(_value)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ
if MULTIPROCESS:
    # This process's live gauges (SMTP connections) stop counting once it exits.
    atexit.register(multiprocess.mark_process_dead, os.getpid())


def _registry() -> CollectorRegistry:
    """This process's metrics, or every process's when PROMETHEUS_MULTIPROC_DIR is set."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def render() -> tuple[bytes, str]:
    """The metrics page: (body, content type)."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int) -> None:
    """/metrics on `port` for a process without an API (worker, relay), in a thread."""
    start_http_server(port, addr=host, registry=_registry())
