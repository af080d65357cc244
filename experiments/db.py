"""Engine, session factory and migrations.

SQLite is the zero-setup default (a file under ./instance); PostgreSQL works through a
``postgresql+psycopg://`` URL. Schema changes only ever happen through Alembic, also on start.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_SQLITE_PATH = Path("instance") / "abtest.db"
# Arbitrary constant: serializes concurrent `upgrade` calls of several workers on PostgreSQL.
_MIGRATION_LOCK_ID = 7_414_263_301


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else ``ABTEST_DATABASE_URL``, else ./instance/abtest.db."""
    if url:
        return url
    env = os.environ.get("ABTEST_DATABASE_URL")
    if env:
        return env
    return f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"


def make_engine(url: str | None = None, **kwargs: object) -> Engine:
    """Create an engine; for SQLite also the parent directory and the per-connection pragmas."""
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() == "sqlite":
        if resolved.database and resolved.database != ":memory:":
            Path(resolved.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; busy_timeout makes writers queue instead of
    failing; SQLite leaves foreign keys off unless asked per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=15000")  # first: switching to WAL can wait for a lock
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions keep loaded objects usable after commit, so views can serialize them."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged migrations (works from any directory)."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call on every start.

    Each migration runs in a transaction of its own, together with its version stamp, so one
    that fails half-way leaves the schema and the stamp as the previous one left them (env.py
    sets ``transaction_per_migration``). Concurrent starts take turns (:func:`_one_migrator`).
    """
    config = alembic_config()
    with migration_connection(engine) as connection, _one_migrator(connection):
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _one_migrator(connection: Connection) -> AbstractContextManager[None]:
    """Serialize concurrent upgrades (several workers, a CLI beside the server), which would
    otherwise both read the old version and run the same migration twice.

    PostgreSQL: a session-level advisory lock, which outlives the per-migration commits.
    SQLite: an exclusive lock on a file beside the database (none for an in-memory one,
    which no other process can open).
    """
    if connection.dialect.name == "postgresql":
        return _advisory_lock(connection)
    database = connection.engine.url.database
    if connection.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return _file_lock(f"{database}.migrate-lock")
    return nullcontext()


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    connection.execute(select(func.pg_advisory_lock(_MIGRATION_LOCK_ID)))
    connection.commit()  # alembic only manages transactions it begins itself
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(select(func.pg_advisory_unlock(_MIGRATION_LOCK_ID)))
        connection.commit()


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection on which a transaction covers DDL too.

    pysqlite only opens a transaction before INSERT/UPDATE/DELETE, so a CREATE or ALTER would
    commit at once and a failed migration leave its tables behind. Following SQLAlchemy's
    pysqlite notes ("Serializable isolation / Savepoints / Transactional DDL"), the driver's
    own BEGIN is switched off (autocommit isolation, reset when the connection goes back to
    the pool) and every transaction SQLAlchemy begins emits an explicit BEGIN IMMEDIATE.
    Only this connection: the app's sessions keep the driver's behaviour their concurrency
    relies on.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(isolation_level="AUTOCOMMIT")
            event.listen(connection, "begin", _begin_explicitly)
        yield connection


def _begin_explicitly(connection: Connection) -> None:
    """IMMEDIATE takes the write lock at once (waiting up to busy_timeout for another writer),
    so a migration never fails half-way on a lock it could not upgrade to."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def insert_ignoring_conflicts(
    session: Session, model: type[Any], index_elements: list[str]
) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` for the session's dialect.

    Makes concurrent first writes race-safe: the loser's insert is a no-op and both read the
    winner's row back.
    """
    return upsert_insert(session, model).on_conflict_do_nothing(index_elements=index_elements)


def upsert_insert(session: Session, model: type[Any]) -> Any:
    """The session's dialect's ``INSERT`` construct, the one with ``on_conflict_do_*``.

    Supported on SQLite and PostgreSQL, the two backends this project runs on.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"no INSERT … ON CONFLICT support for {dialect!r}")
    return insert(model)
