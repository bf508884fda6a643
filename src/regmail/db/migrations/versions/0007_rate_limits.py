"""rate limits: counters every API process shares (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regmail_rate_limits",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_index", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_regmail_rate_limits")),
    )
    op.create_index(
        op.f("ix_regmail_rate_limits_expires_at"), "regmail_rate_limits", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_regmail_rate_limits_expires_at"), table_name="regmail_rate_limits")
    op.drop_table("regmail_rate_limits")
