"""outbox trace: the W3C traceparent that ties a mail's spans into one trace

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("regmail_outbox") as batch:
        batch.add_column(sa.Column("trace", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("regmail_outbox") as batch:
        batch.drop_column("trace")
