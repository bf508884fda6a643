"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 06:26:48.384917
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "regmail_accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regmail_accounts")),
        sa.UniqueConstraint("email_key", name=op.f("uq_regmail_accounts_email_key")),
    )
    op.create_table(
        "regmail_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mail_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("dead_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regmail_outbox")),
    )
    with op.batch_alter_table("regmail_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regmail_outbox_status_available_at"),
            ["status", "available_at"],
            unique=False,
        )

    op.create_table(
        "regmail_activation_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["regmail_accounts.id"],
            name=op.f("fk_regmail_activation_tokens_account_id_regmail_accounts"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_regmail_activation_tokens")),
    )
    with op.batch_alter_table("regmail_activation_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regmail_activation_tokens_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "regmail_mails",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempts_before_replay", sa.Integer(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_reply", sa.Text(), nullable=True),
        sa.Column("dead_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["regmail_accounts.id"],
            name=op.f("fk_regmail_mails_account_id_regmail_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regmail_mails")),
    )
    with op.batch_alter_table("regmail_mails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regmail_mails_recipient_created_at"),
            ["recipient", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_regmail_mails_status_updated_at"), ["status", "updated_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("regmail_mails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regmail_mails_status_updated_at"))
        batch_op.drop_index(batch_op.f("ix_regmail_mails_recipient_created_at"))

    op.drop_table("regmail_mails")
    with op.batch_alter_table("regmail_activation_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regmail_activation_tokens_account_id"))

    op.drop_table("regmail_activation_tokens")
    with op.batch_alter_table("regmail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regmail_outbox_status_available_at"))

    op.drop_table("regmail_outbox")
    op.drop_table("regmail_accounts")
