"""The schema. Migrations (db/migrations) create it; this module describes it for queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every engine (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Every table is regmail_*, Alembic's record of the schema too, so regmail can share a
# database with an application (and its own Alembic history) without a collision.
PREFIX = "regmail_"
VERSION_TABLE = f"{PREFIX}alembic_version"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "regmail_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),
    # Lower-cased address: one account per mailbox, however the user capitalises it.
    Column("email_key", String(320), nullable=False, unique=True),
    # Active: the password's hash. Pending: that of its latest sign-up (each sign-up's own
    # is on its activation token, and activation takes the one it proves).
    Column("password_hash", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # pending | active
    Column("locale", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("activated_at", UTCDateTime()),
    # Failed sign-in checks in a row, from anywhere; at the limit only a reset unlocks.
    Column("failed_sign_ins", Integer, nullable=False, default=0, server_default="0"),
)

# Single-use links mailed to an account's address: activation, password reset, address
# change. The token itself is never stored: its SHA-256 is the key.
account_tokens = Table(
    "regmail_account_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(36), ForeignKey("regmail_accounts.id"), nullable=False),
    Column("purpose", String(16), nullable=False),  # activation | reset | email_change
    Column("password_hash", String(255)),  # activation: the password of that sign-up
    Column("new_email", String(320)),  # email_change: the address it confirms
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
    Index(None, "account_id", "purpose"),
)

# Failed sign-in checks per address and client network (hashed together): the delay
# before the next check grows with them; a success removes the row.
sign_in_failures = Table(
    "regmail_sign_in_failures",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("blocked_until", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Rate-limit counters shared by every API process (PostgreSQL): per hashed key, the hits
# of the current fixed window and the one before it (regmail.limits.window).
rate_limits = Table(
    "regmail_rate_limits",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_index", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("previous", Integer, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# Requests that name an address (resend the activation mail, reset the password), kept
# until handled: the answer is sent before the address is looked up, so it takes the same
# time whoever the address belongs to, and a crash does not lose the request.
address_requests = Table(
    "regmail_address_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),  # resend | reset
    Column("email", String(320), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# One row per message to deliver, and its delivery state whichever broker carries the
# work: a mail (channel `mail`: to an address over SMTP) or an event (channel `event`: to
# one webhook endpoint, `webhook:<name>`, or to the event broker, `broker`).
mails = Table(
    "regmail_mails",
    metadata,
    Column("id", String(36), primary_key=True),
    # No foreign key: an account's events (account.deleted among them) outlive it, and are
    # delivered in order per account after it is gone.
    Column("account_id", String(36)),
    Column("channel", String(8), nullable=False, default="mail", server_default="mail"),
    Column("kind", String(32), nullable=False),  # activation, …, account.activated, …
    Column("recipient", String(320), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    # queued | sending | sent | retrying | dead
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # An operator's replay starts a fresh retry budget: attempts and age count from here.
    Column("attempts_before_replay", Integer, nullable=False, default=0),
    Column("replayed_at", UTCDateTime()),
    Column("last_reply", Text),
    Column("dead_reason", String(32)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime()),
    Column("sending_until", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    # When the link inside stops working; the mail is not worth sending after it.
    Column("expires_at", UTCDateTime()),
    Index(None, "recipient", "created_at"),
    Index(None, "status", "updated_at"),
    Index(None, "account_id", "recipient", "created_at"),  # an account's events, in order
)

# The transactional outbox. With broker=db it is the queue workers claim from.
outbox = Table(
    "regmail_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mail_id", String(36), nullable=False),
    Column("key", String(320), nullable=False),
    Column("status", String(16), nullable=False),  # ready | dead
    Column("available_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("deliveries", Integer, nullable=False, default=0),
    Column("dead_reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("trace", String(64)),  # W3C traceparent of the request that queued the mail
    Index(None, "status", "available_at"),
    # Workers settle a claimed row by its id: an id must never name a newer row (0008).
    sqlite_autoincrement=True,
)

# Delivery paused as a whole because the SMTP provider itself fails (connect, TLS, AUTH):
# one row while any worker is paused, so that /readyz can say so. Workers write it.
provider_pauses = Table(
    "regmail_provider_pauses",
    metadata,
    Column("worker", String(128), primary_key=True),  # host:pid
    Column("reason", Text, nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("until", UTCDateTime(), nullable=False),
)

# Addresses that hard-bounced ("no such user"): no more mail goes to them until an
# operator lifts the suppression. Sign-up still answers 202.
suppressions = Table(
    "regmail_suppressions",
    metadata,
    Column("address", String(320), primary_key=True),  # the recipient as mailed (ASCII)
    Column("reason", Text, nullable=False),  # the server's reply
    Column("mail_id", String(36)),  # the mail that bounced
    Column("created_at", UTCDateTime(), nullable=False),
)
