"""outbox ids never reused (SQLite AUTOINCREMENT)

Without AUTOINCREMENT SQLite gives a new row the highest id in use plus one, so the id of
a row just deleted (the highest) comes back at the next insert. A worker settling a row it
claimed by id could then settle a row written after it: a replay's, which never went.
PostgreSQL's sequence never hands an id out twice; nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _rebuild_outbox(autoincrement=True)


def downgrade() -> None:
    _rebuild_outbox(autoincrement=False)


def _rebuild_outbox(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "regmail_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
