"""customer segments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

RFM segment attributes per unit from the latest order import (``abtest segments import``);
assignment merges them with the attributes the storefront sends. Keyed by unit id: one primary
key lookup per /assign.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_segments",
        sa.Column("unit_id", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("scored_as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_id"),
    )


def downgrade() -> None:
    op.drop_table("customer_segments")
