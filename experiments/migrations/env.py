"""Alembic environment: uses the connection handed over by experiments.db.upgrade, else
opens one from ABTEST_DATABASE_URL (for `alembic` run by hand)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from experiments.db import make_engine, migration_connection
from experiments.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Configure the context on ``connection`` and run the pending migrations, each in its own
    transaction with its version stamp (DDL included on SQLite: see
    experiments.db.migration_connection), so a failing one changes nothing.

    SQLite: ``PRAGMA foreign_keys`` cannot be switched off inside that transaction, so a batch
    operation that recreates a table other tables reference (DROP of the old copy) would
    cascade-delete their rows; use native ALTERs there (ADD/DROP/RENAME COLUMN)."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Online migrations only: offline SQL scripts are not part of this project's workflow."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = make_engine()
    with migration_connection(engine) as own_connection:
        run_migrations(own_connection)
    engine.dispose()


main()
