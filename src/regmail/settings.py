"""All configuration, read from ``REGMAIL_*`` environment variables (and ``.env``).

Nothing else in the package reads the environment: every part takes a ``Settings``.
The reference in docs/configuration.md is generated from the field descriptions here
(``regmail config-reference``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from email.utils import parseaddr
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from regmail.event_types import EventType
from regmail.networks import parse_networks
from regmail.smtp_url import parse_smtp_url


class WebhookEndpoint(BaseModel):
    """One webhook receiver, in REGMAIL_WEBHOOKS."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr = Field(description="whsec_ and a base64 key (Standard Webhooks)")
    events: list[EventType] = Field([], description="Event types it wants; empty: all")

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: SecretStr) -> SecretStr:
        check_webhook_secret(value.get_secret_value())
        return value


def check_webhook_secret(secret: str) -> None:
    """A Standard Webhooks secret: `whsec_` and a base64 key of at least 24 bytes."""
    key = secret.removeprefix("whsec_")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not secret.startswith("whsec_") or len(raw) < 24:
        raise ValueError("a webhook secret is whsec_ and a base64 key of 24 bytes or more")


# The envelope sender: a dot-atom local part at a domain of DNS labels.
SENDER = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
PLACEHOLDERS = ("changeme", "replaceme", "placeholder", "yourtoken", "example", "secret")


def check_admin_token(token: str) -> None:
    """A token that opens the admin API: long, and not a word from an example file."""
    if len(token) < 32:
        raise ValueError("the admin token must be at least 32 characters (openssl rand -hex 32)")
    folded = "".join(c for c in token.lower() if c.isalnum())
    if any(word in folded for word in PLACEHOLDERS) or len(set(folded)) < 8:
        raise ValueError("the admin token is a placeholder; generate one: openssl rand -hex 32")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGMAIL_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # inputs are secrets too (tokens, URLs with passwords)
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./regmail.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    broker_url: SecretStr = Field(
        SecretStr("db"),
        description=(
            "What carries the work: `db` (the outbox table is the queue), "
            "`amqp://user:pass@host:5672/vhost` (RabbitMQ; a cluster's nodes as "
            "`host1:5672,host2:5672,host3:5672`) or `kafka://host1:9092,host2:9092`."
        ),
    )
    rabbitmq_prefix: str = Field(
        "regmail", description="Name of the RabbitMQ exchange, and prefix of its queues."
    )
    rabbitmq_retry_steps: list[float] = Field(
        [1, 10, 60, 600, 3600],
        description=(
            "Delays (seconds) of the RabbitMQ retry ladder, one TTL queue each, as JSON. "
            "A retry waits on the longest step that fits, hopping again until due."
        ),
    )
    rabbitmq_delivery_limit: int = Field(
        20, ge=1, description="Deliveries of one message (crashed consumers) before it is parked."
    )
    rabbitmq_quorum_size: int | None = Field(
        None,
        ge=1,
        description=(
            "Replicas of each quorum queue `regmail migrate` declares "
            "(x-quorum-initial-group-size; 3 on a cluster of 3 or more). Unset: RabbitMQ's "
            "default, a replica on every node of the cluster. Set it before the first "
            "migrate: RabbitMQ refuses to declare an existing queue with another value "
            "(PRECONDITION_FAILED); grow or shrink existing queues with `rabbitmq-queues`."
        ),
    )
    kafka_topic: str = Field(
        "regmail.mail",
        description="Kafka topic of new mail; retry and dead-letter topics add a suffix.",
    )
    kafka_group: str = Field("regmail-workers", description="Consumer group of the workers.")
    kafka_partitions: int = Field(
        12, ge=1, description="Partitions of each topic `regmail migrate` creates."
    )
    kafka_replication: int = Field(
        1, ge=1, description="Replication factor of the topics it creates (3 in production)."
    )
    kafka_min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description=(
            "min.insync.replicas of the topics it creates. Unset: 2 when the replication "
            "factor is 3 or more (a write acknowledged by acks=all is then on two brokers), "
            "else the brokers' default."
        ),
    )
    kafka_retry_steps: list[float] = Field(
        [1, 10, 60, 600, 3600],
        description="Delays (seconds) of the retry topics `<topic>.retry.N`, as JSON.",
    )
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: str | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password.")
    kafka_ssl_cafile: str | None = Field(
        None, description="CA bundle to verify the brokers' certificates (SSL, SASL_SSL)."
    )
    handler_failed_delay_seconds: float = Field(
        60.0,
        gt=0,
        description="A message whose handling or settling raised (a bug, the database away) "
        "is delivered again after this long, on every broker.",
    )
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Where account events go as signed webhooks (Standard Webhooks); with "
        "`webhook_secret`. Several endpoints, each with its own events: `webhooks`.",
    )
    webhook_secret: SecretStr | None = Field(
        None, description="The signing secret of `webhook_url`: whsec_ and a base64 key."
    )
    webhooks: list[WebhookEndpoint] = Field(
        [],
        description='More webhook endpoints, as JSON: [{"name": "crm", "url": "https://…", '
        '"secret": "whsec_…", "events": ["account.activated"]}] (no events: all).',
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds for one webhook request.")
    webhook_concurrency: int = Field(
        10, ge=1, description="Webhook requests in flight at once per endpoint and worker."
    )
    events_to_broker: bool = Field(
        False,
        description="Also publish every account event to the broker: RabbitMQ topic exchange "
        "`events_exchange` (routing key = event type) or Kafka topic `events_topic` (key = "
        "account id). Needs REGMAIL_BROKER_URL to be amqp:// or kafka://.",
    )
    events_exchange: str = Field("regmail.events", description="RabbitMQ exchange of events.")
    events_topic: str = Field("regmail.events", description="Kafka topic of events.")
    relay_in_serve: bool = Field(
        True, description="`regmail serve` also relays the outbox to the broker (not for `db`)."
    )
    relay_concurrency: int = Field(
        50, ge=1, description="Outbox messages the relay publishes at once (confirms awaited)."
    )
    smtp_url: SecretStr = Field(
        SecretStr("smtp://127.0.0.1:8025"),
        description=(
            "Where mail goes: smtp://[user:pass@]host:port (STARTTLS whenever offered; "
            "?starttls=true requires it) or smtps://user:pass@host:465 (implicit TLS). "
            "?ca_file=/path.pem trusts a private CA; AUTH is never sent unencrypted unless "
            "?insecure=true. `regmail dev` points it at its own sink."
        ),
    )
    smtp_timeout: float = Field(30.0, gt=0, description="Seconds for any one SMTP command.")
    smtp_max_per_second: float = Field(
        0.0,
        ge=0,
        description="At most this many sends a second per worker process (0: no limit). Give "
        "each worker its share of the provider's rate limit.",
    )
    smtp_pause_max_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest pause of all mail while the SMTP provider itself fails "
        "(refused connection, TLS or AUTH failure); pauses start at 1 s and double. Also the "
        "longest pause of one event destination that refuses connections (a webhook "
        "endpoint that is down, the event broker); mail and other destinations go on.",
    )
    smtp_connections: int | None = Field(
        None,
        ge=1,
        description="SMTP connections one worker process opens at most (keep workers x this "
        "within your provider's limit per account). Unset: one per mail in flight "
        "(REGMAIL_WORKER_CONCURRENCY). With fewer connections than mails in flight, a "
        "server that offers PIPELINING carries two mails at once on a connection, one round "
        "trip a mail.",
    )
    smtp_idle_check_seconds: float = Field(
        10.0, description="A pooled connection idle longer than this is checked with NOOP first."
    )
    mail_from: str = Field(
        "regmail <no-reply@regmail.localhost>", description="From header and envelope sender."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Base URL of links in mails (the activation link).",
    )
    product_name: str | None = Field(
        None,
        description="The product's name, `product_name` in every mail template. Unset: the "
        "display name of `mail_from` (else its domain).",
    )
    support_email: str | None = Field(
        None, description="An address for questions, `support_email` in every mail template."
    )
    templates_dir: Path | None = Field(
        None,
        description="A directory of your own mail templates (`<kind>.<locale>.subject`, "
        "`.txt`, `.html`); each file found there replaces the built-in one of that name.",
    )
    kinds: list[str] = Field(
        [],
        description='Your own kinds of mail, as JSON: `["mypkg.mail:KINDS"]`, each a '
        "sequence of regmail.mails.kinds.Kind; regmail's own are always there.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for /v1/admin/*: at least 32 characters, random (`openssl "
        "rand -hex 32`); a placeholder such as CHANGE-ME is refused. Unset or empty: the "
        "admin API is disabled.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Key sealing mail payloads (the raw activation token) at rest with AES-256-GCM: "
            "32 bytes in base64url, from `regmail secret-key`. The same on every process. "
            "Unset: read from `secret_key_file`, created there if missing (one machine only)."
        ),
    )
    secret_keys_previous: SecretStr = Field(
        SecretStr(""),
        description=(
            "Earlier secret keys, comma-separated: mail sealed with them still opens. To "
            "rotate, move the current key here and set a new `secret_key`."
        ),
    )
    secret_key_file: Path = Field(
        Path("regmail-secret.key"),
        description="Where the key lives when `secret_key` is unset (mode 0600).",
    )
    mail_retention_days: int = Field(
        30,
        ge=0,
        description=(
            "Sent and dead mails are deleted this many days after their last change "
            "(workers check hourly); 0 keeps them forever."
        ),
    )
    token_ttl_seconds: int = Field(
        24 * 3600, ge=60, description="How long an activation or address-change link works."
    )
    password_reset_ttl_seconds: int = Field(
        3600, ge=60, description="How long a password reset link works."
    )
    pending_account_days: int = Field(
        7,
        ge=0,
        description="A sign-up not activated within this many days is deleted with its links "
        "(hourly, by the API processes); 0 keeps them.",
    )
    password_min_length: int = Field(
        8,
        ge=1,
        le=128,
        description="Shortest password accepted, in characters after NFKC normalisation. NIST "
        "SP 800-63B rev. 4 asks 15 for a password that is the only factor, 8 beside another.",
    )
    address_request_jitter_seconds: float = Field(
        0.5,
        ge=0,
        description="A resend or reset request is handled after a random wait of up to this "
        "long (its answer came first): a known address's writes then do not slow the "
        "requester's next request, which would tell that it is known.",
    )
    app_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description='Your application: the pages link there ("Continue") after an '
        "activation, a reset or an address change. Unset: they say the step is done.",
    )
    app_activated_path: str | None = Field(
        None,
        pattern=r"^/",
        description="With `app_url`: after an activation on regmail's page, the person is sent "
        "(303) to app_url + this path (e.g. /signin?activated=1) instead of a page of ours.",
    )
    app_password_reset_path: str | None = Field(
        None, pattern=r"^/", description="The same, after a password reset."
    )
    app_email_changed_path: str | None = Field(
        None, pattern=r"^/", description="The same, after an address change is confirmed."
    )
    app_link_failed_path: str | None = Field(
        None,
        pattern=r"^/",
        description="With `app_url`: a mailed link that no longer works (invalid, used, "
        "expired) sends the person here, with ?step=activation|reset|email_change"
        "&reason=invalid|used|expired, instead of regmail's page saying why.",
    )
    link_base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Headless mode: links in mails point here (+ /activate, /reset, "
        "/confirm-email ?token=…&lang=…), at your own frontend, which calls the JSON API. "
        "Unset: `public_url`, regmail's own pages.",
    )
    api_docs: bool = Field(
        True,
        description="Serve the OpenAPI schema (/openapi.json) and Swagger UI (/docs, its "
        "assets served by regmail itself, no CDN). False: neither.",
    )
    admin_bind: str | None = Field(
        None,
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
        description="host:port of a listener of its own for the admin API, /metrics and "
        "/readyz (e.g. 127.0.0.1:9000, or a private interface): the public port then has "
        "neither the admin API nor /metrics. Unset: they share the public port.",
    )
    api_docs_admin: bool = Field(
        False,
        description="Also document the admin API (/v1/admin/*) in /openapi.json and /docs. "
        "Off: anyone who can read the docs does not get a map of the operator's routes.",
    )
    cors_origins: list[str] = Field(
        [],
        description="Origins whose browser code may call the public JSON API, as JSON: "
        '["https://app.example.com"]. Empty: none (no CORS headers). The admin API is '
        "never open to them.",
    )
    argon2_memory_kib: int = Field(19456, description="argon2id memory cost (OWASP: 19 MiB).")
    argon2_time_cost: int = Field(2, description="argon2id iterations (OWASP: 2).")
    argon2_parallelism: int = Field(1, description="argon2id lanes (OWASP: 1).")
    hash_threads: int = Field(
        0, ge=0, description="Threads hashing passwords; 0 means one per CPU core."
    )
    hash_thread_nice: int = Field(
        5,
        ge=0,
        le=19,
        description="How much lower than the rest of the process the hashing threads are "
        "scheduled (Linux nice, per thread; 0: the same). Hashing is throughput work, so "
        "the event loop (answers, the relay, /healthz) runs first when the cores are busy.",
    )
    mails_per_address_per_hour: int = Field(
        5, ge=1, description="At most this many mails to one address per hour (resends included)."
    )
    resend_cooldown_seconds: int = Field(
        60, ge=0, description="A repeated sign-up or resend within this time sends no new mail."
    )
    signups_per_ip_per_minute: int = Field(
        30, ge=1, description="Sign-up and resend requests per client IP per minute (429 past it)."
    )
    requests_per_address_per_hour: int = Field(
        20,
        ge=1,
        description="Sign-up, resend and reset requests naming one address from one client IP "
        "per hour, counted the same whether the address is known or not (429 past it). Per "
        "client, so nobody elsewhere can use it to lock the address's owner out.",
    )
    sign_in_checks_per_ip_per_minute: int = Field(
        300,
        ge=1,
        description="Sign-in checks (and address changes) per client IP per minute (429 past "
        "it); failures are also throttled per address and client network.",
    )
    link_attempts_per_ip_per_minute: int = Field(
        30,
        ge=1,
        description="Uses and views of activation, reset and address-change links per client "
        "IP per minute (429 past it), so made-up tokens cannot be tried at speed.",
    )
    trusted_proxies: list[str] = Field(
        ["127.0.0.1", "::1"],
        description="Proxies (CIDRs, as JSON) whose `Forwarded` / `X-Forwarded-For` is "
        'believed: your load balancer or ingress, e.g. ["10.0.0.0/8"]. The client is the '
        "rightmost address in the chain that none of them is; limits count IPv6 per /64.",
    )
    rate_limit_memory_keys: int = Field(
        100_000,
        ge=1000,
        description="Without PostgreSQL, rate-limit counters live in each API process's "
        "memory: at most this many keys (~300 bytes each), least recently used dropped. "
        "With PostgreSQL they are in the database, shared by every process.",
    )
    http_max_header_bytes: int = Field(
        32 * 1024,
        ge=1024,
        description="Largest request head (request line and headers) taken; larger is 431.",
    )
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="A connection that has not sent a whole request head this long after "
        "connecting (or starting its next request) is closed: idle and trickling sockets "
        "cannot hold connections.",
    )
    http_keep_alive_seconds: int = Field(
        5, ge=1, description="An idle keep-alive connection is closed after this long."
    )
    http_max_connections: int = Field(
        1000,
        ge=1,
        description="Connections (and requests in progress) one API process takes at once; "
        "past it, new requests are answered 503 at once instead of queueing.",
    )
    max_body_bytes: int = Field(16 * 1024, description="Larger request bodies are refused (413).")
    worker_concurrency: int = Field(
        10,
        ge=1,
        description=(
            "Mails in flight per worker process; SMTP connections are opened and reused "
            "for them up to REGMAIL_SMTP_CONNECTIONS."
        ),
    )
    worker_grace_seconds: float = Field(
        30.0,
        ge=0,
        description="On SIGTERM a worker finishes its sends in flight for at most this long, "
        "then stops; what is left is taken by other workers.",
    )
    worker_poll_seconds: float = Field(
        0.25, gt=0, description="How often an idle db-broker worker looks for due mail."
    )
    lease_seconds: float = Field(
        60.0,
        gt=0,
        description="A claimed mail not settled within this time is taken by another worker. "
        "Longer than REGMAIL_SMTP_TIMEOUT (and REGMAIL_WEBHOOK_TIMEOUT with webhooks).",
    )
    relay_lease_seconds: float = Field(
        10.0,
        gt=0,
        description="With RabbitMQ or Kafka: an outbox row a relay claimed but did not publish "
        "within this time is published again, by any relay (the worker drops the copy).",
    )
    retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay.")
    retry_factor: float = Field(2.0, ge=1, description="Each retry waits this many times longer.")
    retry_max_delay_seconds: float = Field(3600.0, gt=0, description="Longest retry delay.")
    retry_max_attempts: int = Field(15, ge=1, description="Attempts before a mail goes dead.")
    retry_max_age_seconds: float = Field(
        24 * 3600.0, gt=0, description="A mail this old is not retried any more (dead)."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8000, description="Port of the HTTP server.")
    dev_sink_port: int = Field(8025, description="Port of the built-in SMTP sink (`regmail dev`).")
    dev_mode: bool = Field(False, description="Serve /dev/mailbox (set by `regmail dev`).")
    otlp_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="OpenTelemetry collector (OTLP over HTTP, e.g. http://collector:4318): "
        "traces of sign-up → relay → worker → SMTP. Unset: no tracing.",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        description="`regmail worker` and `regmail relay` serve /metrics on this port (0: off). "
        "With PROMETHEUS_MULTIPROC_DIR set, the API's /metrics covers them already.",
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    log_json: bool | None = Field(
        None,
        description="JSON log lines (false: readable console lines). Unset: JSON, except "
        "under `regmail dev` or when stderr is a terminal.",
    )

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_webhook_secret(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _kafka_replicas(self) -> Self:
        wanted = self.kafka_min_insync_replicas
        if wanted is not None and wanted > self.kafka_replication:
            raise ValueError(
                "REGMAIL_KAFKA_MIN_INSYNC_REPLICAS above REGMAIL_KAFKA_REPLICATION: "
                "no write could ever be acknowledged"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_wait(self) -> Self:
        # A send still waiting on its server when its lease runs out is claimed and made
        # again by another worker: a duplicate on every slow reply.
        waits = [("SMTP_TIMEOUT", self.smtp_timeout)]
        if self.webhook_url is not None or self.webhooks:
            waits.append(("WEBHOOK_TIMEOUT", self.webhook_timeout))
        for name, seconds in waits:
            if self.lease_seconds <= seconds:
                raise ValueError(
                    f"REGMAIL_LEASE_SECONDS ({self.lease_seconds:g}) must be longer than "
                    f"REGMAIL_{name} ({seconds:g}): a send still waiting when its lease "
                    "runs out is sent again by another worker"
                )
        return self

    @model_validator(mode="after")
    def _webhook_pairs(self) -> Self:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError("REGMAIL_WEBHOOK_URL and REGMAIL_WEBHOOK_SECRET go together")
        names = ["default"] if self.webhook_url else []
        names += [hook.name for hook in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError("two webhook endpoints have one name (`default` is WEBHOOK_URL's)")
        if self.events_to_broker and self.broker_url.get_secret_value() == "db":
            raise ValueError("REGMAIL_EVENTS_TO_BROKER needs an amqp:// or kafka:// broker")
        return self

    @model_validator(mode="after")
    def _app_paths_need_app_url(self) -> Self:
        paths = (
            self.app_activated_path,
            self.app_password_reset_path,
            self.app_email_changed_path,
            self.app_link_failed_path,
        )
        if self.app_url is None and any(paths):
            raise ValueError("REGMAIL_APP_*_PATH needs REGMAIL_APP_URL")
        return self

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_off(cls, value: object) -> object:
        secret = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if secret is None or secret == "" else value

    @field_validator("admin_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_admin_token(value.get_secret_value())
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr) -> SecretStr:
        parse_smtp_url(value.get_secret_value())  # its errors never repeat the URL
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must be sqlite+aiosqlite:///path or postgresql+asyncpg://user:pass@host/db"
            )
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a URL SQLAlchemy can read (a password with @ : / # in it must be "
                "percent-encoded)"
            ) from None
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url != "db" and not url.startswith(("amqp://", "amqps://", "kafka://")):
            raise ValueError("must be db, amqp://… (RabbitMQ) or kafka://host:port,… (Kafka)")
        return value

    @field_validator("templates_dir")
    @classmethod
    def _templates_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("support_email")
    @classmethod
    def _support_email(cls, value: str | None) -> str | None:
        if value is not None and not SENDER.fullmatch(value):
            raise ValueError(f"{value!r} is not an address like help@example.com")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        _, address = parseaddr(value)
        if not SENDER.fullmatch(address):
            raise ValueError(
                f"{value!r} is not an address like Name <no-reply@example.com> (an ASCII "
                "address: an international domain in its xn-- form)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return [origin.rstrip("/") for origin in value]

    @property
    def hash_thread_count(self) -> int:
        return self.hash_threads or os.cpu_count() or 1
