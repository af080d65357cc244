"""data lifecycle: archived experiments, audit entries that outlive their subject

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

``experiments.archived_at`` hides an experiment from the default lists without changing what
it serves. ``audit_entries.experiment_id`` becomes nullable: the tombstone of a deleted
experiment and the record of a shopper's erasure belong to no (remaining) experiment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("experiments", sa.Column("archived_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("audit_entries") as batch:
        batch.alter_column("experiment_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM audit_entries WHERE experiment_id IS NULL")
    with op.batch_alter_table("audit_entries") as batch:
        batch.alter_column("experiment_id", existing_type=sa.Integer(), nullable=False)
    # Native DROP COLUMN (SQLite 3.35+): recreating experiments would cascade-delete its rows.
    op.drop_column("experiments", "archived_at")
