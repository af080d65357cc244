"""session tokens and login throttle

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Each user gets a random session token that every sign-in cookie names (replaced on logout,
password and role change, so those end the user's sessions on every worker); existing users
get one each, which signs everybody out once. ``login_throttles`` counts failed sign-ins per
hashed account name and client network, shared by every worker.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_token", sa.String(length=32), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("session_token"))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(users.update().where(users.c.id == user_id)
                           .values(session_token=secrets.token_hex(16)))
    with op.batch_alter_table("users") as batch:  # SQLite cannot add NOT NULL in place
        batch.alter_column("session_token", existing_type=sa.String(length=32), nullable=False)
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_login_throttles_last_failure_at", "login_throttles", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_login_throttles_last_failure_at", table_name="login_throttles")
    op.drop_table("login_throttles")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_token")
