"""allocation snapshots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

One row per allocation decision (a Thompson reweighting, an automatic promotion, a promotion
by hand) with the figures that justified it, so the weights' history can be plotted and every
promotion audited.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "allocation_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("weights_version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_allocation_snapshots_experiment", "allocation_snapshots", ["experiment_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_allocation_snapshots_experiment", table_name="allocation_snapshots")
    op.drop_table("allocation_snapshots")
