"""events: a message row is a mail or an event (to a webhook endpoint or the event broker);
an account's events to one destination are looked up in order, and outlive the account

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("regmail_mails") as batch:
        # Events outlive their account (account.deleted, and what came before it).
        batch.drop_constraint("fk_regmail_mails_account_id_regmail_accounts", type_="foreignkey")
        batch.add_column(
            sa.Column("channel", sa.String(length=8), nullable=False, server_default="mail")
        )
        batch.create_index(
            batch.f("ix_regmail_mails_account_id_recipient_created_at"),
            ["account_id", "recipient", "created_at"],
        )


def downgrade() -> None:
    with op.batch_alter_table("regmail_mails") as batch:
        batch.drop_index(batch.f("ix_regmail_mails_account_id_recipient_created_at"))
        batch.drop_column("channel")
        batch.create_foreign_key(
            "fk_regmail_mails_account_id_regmail_accounts",
            "regmail_accounts",
            ["account_id"],
            ["id"],
        )
