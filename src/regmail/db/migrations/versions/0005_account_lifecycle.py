"""account lifecycle: one token table for activation, reset and address change (each
activation token bound to its own sign-up's password), sign-in throttling, address requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regmail_account_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("new_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["regmail_accounts.id"],
            name=op.f("fk_regmail_account_tokens_account_id_regmail_accounts"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_regmail_account_tokens")),
    )
    with op.batch_alter_table("regmail_account_tokens") as batch:
        batch.create_index(
            batch.f("ix_regmail_account_tokens_account_id_purpose"), ["account_id", "purpose"]
        )
    # An activation token of an earlier version activates with the password its account
    # was created with, as it would have then.
    op.execute(
        "INSERT INTO regmail_account_tokens (token_hash, account_id, purpose, password_hash,"
        " created_at, expires_at, used_at)"
        " SELECT t.token_hash, t.account_id, 'activation', a.password_hash,"
        " t.created_at, t.expires_at, t.used_at"
        " FROM regmail_activation_tokens t JOIN regmail_accounts a ON a.id = t.account_id"
    )
    with op.batch_alter_table("regmail_activation_tokens") as batch:
        batch.drop_index(batch.f("ix_regmail_activation_tokens_account_id"))
    op.drop_table("regmail_activation_tokens")

    with op.batch_alter_table("regmail_accounts") as batch:
        batch.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "regmail_sign_in_failures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_regmail_sign_in_failures")),
    )
    op.create_table(
        "regmail_address_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regmail_address_requests")),
    )


def downgrade() -> None:
    op.drop_table("regmail_address_requests")
    op.drop_table("regmail_sign_in_failures")
    with op.batch_alter_table("regmail_accounts") as batch:
        batch.drop_column("failed_sign_ins")
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
    with op.batch_alter_table("regmail_activation_tokens") as batch:
        batch.create_index(batch.f("ix_regmail_activation_tokens_account_id"), ["account_id"])
    op.execute(
        "INSERT INTO regmail_activation_tokens"
        " (token_hash, account_id, created_at, expires_at, used_at)"
        " SELECT token_hash, account_id, created_at, expires_at, used_at"
        " FROM regmail_account_tokens WHERE purpose = 'activation'"
    )
    op.drop_table("regmail_account_tokens")
